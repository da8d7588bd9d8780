"""What `carec-edge run` needs beyond what the config models check by themselves: devices valid
for their kinds, the kiosk's language among its catalogs, a data directory the store can live
in, and sync's key, certificates and trust store. `config check` and `run` ask the same
questions here, so a file that passes the check starts."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from drivers.registry import DeviceConfigError, parse_devices
from edge.config import Config
from ui_kiosk.i18n import LANGUAGES


class DataDirError(ValueError):
    """The data directory cannot hold the store; the message names it and says why."""


def data_dir_problem(path: Path) -> str | None:
    """Why the store cannot live in `path`, or None. An existing directory is probed with a
    temporary file (permissions alone mislead root, and a read-only mount); a missing one must
    have a writable directory as its nearest existing ancestor, since the store makes it."""
    try:
        probe = path
        while not os.path.lexists(probe) and probe.parent != probe:
            probe = probe.parent
        if probe != path:
            if not probe.is_dir():
                return f"{path}: cannot be made: {probe} is not a directory"
            if not os.access(probe, os.W_OK | os.X_OK):
                return f"{path}: cannot be made: {probe} is not writable"
            return None
        if not path.is_dir():
            return f"{path}: not a directory"
        with tempfile.TemporaryFile(dir=path):
            pass
    except ValueError as error:  # a NUL in the path
        return f"{path!r}: not a path: {error}"
    except OSError as error:
        return f"{path}: not writable: {error.strerror or error}"
    return None


def _sync_file_problems(config: Config) -> list[str]:
    sync = config.sync
    if not sync.peers:
        return []
    # The node's key signs every envelope; its certificate is the TLS client's unless a peer
    # names its own.
    needed = [
        ("sync.trust_store", sync.trust_store),
        ("sync.identity_dir", sync.identity_dir / "node.key"),
    ]
    if any(peer.cert_file is None for peer in sync.peers):
        needed.append(("sync.identity_dir", sync.identity_dir / "node.crt"))
    for index, peer in enumerate(sync.peers):
        needed.append((f"sync.peers[{index}].ca_file", peer.ca_file))
        for key, path in (("cert_file", peer.cert_file), ("key_file", peer.key_file)):
            if path is not None:
                needed.append((f"sync.peers[{index}].{key}", path))
    return [
        f"{key}: {path} is not a readable file"
        for key, path in needed
        if not (path.is_file() and os.access(path, os.R_OK))
    ]


def config_problems(config: Config, data_dir: Path | None) -> list[str]:
    """Every reason `run` would refuse to start with `config` and `data_dir`, one per line.
    Without `data_dir` the directory is left to the service, which reports a store it cannot
    open through systemd (`service.failed stage=start`, never READY)."""
    problems: list[str] = []
    try:
        parse_devices(config.devices)
    except DeviceConfigError as error:
        problems += error.problems
    if config.kiosk.default_language not in LANGUAGES:
        problems.append(
            f"kiosk.default_language: {config.kiosk.default_language!r} is not one of"
            f" {', '.join(LANGUAGES)}"
        )
    if data_dir is not None and (problem := data_dir_problem(data_dir)):
        problems.append(f"store.data_dir: {problem}")
    problems += _sync_file_problems(config)
    return problems
