"""Rotating the box's key without a visit: a new key and its CSR beside the current ones
(`node.next.key`, `node.next.csr`); the current key signs on until the country's CA has issued
the new certificate (over enrolment, `provisioning.fleet.enrolment`), which `complete` then
puts in place with its key, atomically, the old pair kept as `node.old.*`."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from provisioning.identity.certificates import load_csr, save_certificate
from provisioning.identity.csr import NODE_CERT, NODE_KEY, create_csr
from provisioning.identity.files import PRIVATE, PUBLIC, write_atomically
from provisioning.identity.keys import (
    generate_key,
    load_private_key,
    private_key_pem,
    raw_public_key,
    save_private_key,
)
from provisioning.identity.node_id import NodeId

NEXT_KEY = "node.next.key"
NEXT_CSR = "node.next.csr"
OLD_KEY = "node.old.key"
OLD_CERT = "node.old.crt"


def start(identity_dir: Path, node_id: str) -> bytes:
    """The CSR (PEM) of the next key, made now or by a rotation already under way (the same
    request again: a repeated command does not make a second key)."""
    key_path, csr_path = identity_dir / NEXT_KEY, identity_dir / NEXT_CSR
    if key_path.exists() and csr_path.exists():
        csr = load_csr(csr_path)
        key = load_private_key(key_path)
        if raw_public_key(key.public_key()) == _raw(csr.public_key()):
            return csr.public_bytes(serialization.Encoding.PEM)
    key = generate_key()
    pem = create_csr(key, NodeId.parse(node_id)).public_bytes(serialization.Encoding.PEM)
    save_private_key(key, key_path, overwrite=True)
    write_atomically(csr_path, pem, mode=PUBLIC, overwrite=True)
    return pem


def pending(identity_dir: Path) -> bool:
    return (identity_dir / NEXT_KEY).exists()


def complete(identity_dir: Path, certificate: x509.Certificate) -> None:
    """The new certificate in place with the next key; ValueError when it is not for that key
    (the rotation goes on waiting)."""
    key = load_private_key(identity_dir / NEXT_KEY)
    if _raw(certificate.public_key()) != raw_public_key(key.public_key()):
        raise ValueError("the certificate is not for the key being rotated to")
    current_key, current_cert = identity_dir / NODE_KEY, identity_dir / NODE_CERT
    if current_key.exists():
        write_atomically(
            identity_dir / OLD_KEY, current_key.read_bytes(), mode=PRIVATE, overwrite=True
        )
    if current_cert.exists():
        write_atomically(
            identity_dir / OLD_CERT, current_cert.read_bytes(), mode=PUBLIC, overwrite=True
        )
    write_atomically(current_key, private_key_pem(key), mode=PRIVATE, overwrite=True)
    save_certificate(certificate, current_cert)
    (identity_dir / NEXT_KEY).unlink()
    (identity_dir / NEXT_CSR).unlink(missing_ok=True)


def _raw(public_key: object) -> bytes:
    """An Ed25519 public key's raw bytes; empty for any other kind (never a match)."""
    return raw_public_key(public_key) if isinstance(public_key, Ed25519PublicKey) else b""
