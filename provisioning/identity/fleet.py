"""A small fleet in one directory, for tests, demos and a first deployment: a CA per country,
an identity (key, CSR, certificate) per node, a broker certificate, the CA bundle the broker
trusts, and the trust store every node loads. The same steps as `ca init`, `identity init` and
`ca issue`, run at once.

    root/
      ca-KZ/ ca.key ca.crt          one CA per country
      nodes/KZ-NURZHOLY-1/ node.key node.csr node.crt
      broker/ node.key node.crt     the broker's server certificate (CN: <country>-BROKER-1)
      ca-bundle.pem                 every CA, for the broker and the nodes' TLS
      trust.toml                    every CA with its country, for the nodes' envelopes
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from provisioning.identity.ca import CA_CERT, init_ca, issue_file
from provisioning.identity.csr import init_node
from provisioning.identity.node_id import NodeId

BROKER_NAMES = ("localhost", "127.0.0.1")


@dataclass(frozen=True)
class Fleet:
    root: Path
    nodes: dict[str, Path]  # node id -> its identity directory (node.key, node.crt)
    broker_dir: Path
    ca_bundle: Path
    trust_store: Path

    @property
    def broker_cert(self) -> Path:
        return self.broker_dir / "node.crt"

    @property
    def broker_key(self) -> Path:
        return self.broker_dir / "node.key"


def make_fleet(
    root: Path, node_ids: Sequence[str], *, broker_names: Sequence[str] = BROKER_NAMES
) -> Fleet:
    nodes = [NodeId.parse(n) for n in node_ids]
    countries = sorted({n.country for n in nodes})
    for country in countries:
        init_ca(country, root / f"ca-{country}")
    identities: dict[str, Path] = {}
    for node in nodes:
        directory = root / "nodes" / str(node)
        files = init_node(node, directory)
        issue_file(root / f"ca-{node.country}", files.csr)
        identities[str(node)] = directory
    broker = NodeId.parse(f"{countries[0]}-BROKER-1")
    broker_dir = root / "broker"
    files = init_node(broker, broker_dir)
    issue_file(root / f"ca-{broker.country}", files.csr, servers=tuple(broker_names))
    bundle = root / "ca-bundle.pem"
    bundle.write_bytes(b"".join((root / f"ca-{c}" / CA_CERT).read_bytes() for c in countries))
    trust = root / "trust.toml"
    trust.write_text(
        "".join(
            f'[[authority]]\ncertificate = "ca-{c}/{CA_CERT}"\ncountries = ["{c}"]\n\n'
            for c in countries
        ),
        encoding="utf-8",
    )
    return Fleet(root, identities, broker_dir, bundle, trust)
