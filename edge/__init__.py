"""carec-edge: the core of the border box (manifests, the local store, matching, decisions) and,
in `edge.service` and `edge.cli`, the wiring that joins every room together."""

__version__ = "0.1.0"
