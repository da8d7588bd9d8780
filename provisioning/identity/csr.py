"""A node's key and certificate signing request: `carec-edge identity init --node ID --dir DIR`.

The CSR names the node three ways that must agree: CN and C of the subject, and the alternative
names `urn:carec:node:<id>` and `<id lowercased>` (a DNS name, so the certificate also works for
TLS client authentication). The directory then holds `node.key` (0600) and `node.csr`; the CA's
answer goes beside them as `node.crt`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provisioning.identity.errors import AlreadyExistsError
from provisioning.identity.files import PUBLIC, write_atomically
from provisioning.identity.keys import Fingerprint, fingerprint, generate_key, save_private_key
from provisioning.identity.node_id import NodeId
from provisioning.identity.profile import node_alt_names, node_subject

NODE_KEY = "node.key"
NODE_CSR = "node.csr"
NODE_CERT = "node.crt"


@dataclass(frozen=True)
class NodeFiles:
    node_id: NodeId
    key: Path
    csr: Path
    public_key: Ed25519PublicKey

    @property
    def fingerprint(self) -> Fingerprint:
        return fingerprint(self.public_key)


def create_csr(key: Ed25519PrivateKey, node_id: NodeId) -> x509.CertificateSigningRequest:
    return (
        x509.CertificateSigningRequestBuilder()
        .subject_name(node_subject(node_id))
        .add_extension(x509.SubjectAlternativeName(node_alt_names(node_id)), critical=False)
        .sign(key, None)
    )


def init_node(node_id: NodeId, directory: Path, *, force: bool = False) -> NodeFiles:
    """A new key and its CSR in `directory`; AlreadyExistsError if either is there, unless `force`
    (which also removes the old key's certificate, now useless)."""
    key_path, csr_path = directory / NODE_KEY, directory / NODE_CSR
    if not force:
        for path in (key_path, csr_path):
            if path.exists():
                raise AlreadyExistsError(f"{path} exists; use --force to replace the identity")
    key = generate_key()
    csr_pem = create_csr(key, node_id).public_bytes(serialization.Encoding.PEM)
    save_private_key(key, key_path, overwrite=force)
    write_atomically(csr_path, csr_pem, mode=PUBLIC, overwrite=True)
    (directory / NODE_CERT).unlink(missing_ok=True)
    return NodeFiles(node_id, key_path, csr_path, key.public_key())
