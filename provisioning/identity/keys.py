"""Ed25519 node keys: generate, save (PEM, PKCS#8, 0600), load, and fingerprint.

A fingerprint is the SHA-256 of the raw 32-byte public key. People compare the short form
(`7KQX-M2PA-R4DE-W9ZB`, the first 80 bits in base32); files and logs carry the full hex.
Public keys travel as the standard base64 of their raw 32 bytes (trust store pins).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from provisioning.identity.errors import KeyFileError
from provisioning.identity.files import PRIVATE, write_atomically


def generate_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


def private_key_pem(key: Ed25519PrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def save_private_key(key: Ed25519PrivateKey, path: Path, *, overwrite: bool = False) -> Path:
    """Write the key as PKCS#8 PEM, mode 0600, atomically; AlreadyExistsError unless `overwrite`."""
    return write_atomically(path, private_key_pem(key), mode=PRIVATE, overwrite=overwrite)


def load_private_key(path: Path) -> Ed25519PrivateKey:
    try:
        pem = path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"{path}: cannot read the key ({error.strerror})") from None
    try:
        key = serialization.load_pem_private_key(pem, password=None)
    except (ValueError, TypeError) as error:
        raise KeyFileError(f"{path}: not an unencrypted PEM private key ({error})") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyFileError(f"{path}: a {type(key).__name__}, expected an Ed25519 key")
    return key


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def encode_public_key(key: Ed25519PublicKey) -> str:
    return base64.b64encode(raw_public_key(key)).decode("ascii")


def decode_public_key(text: str) -> Ed25519PublicKey:
    """The key from the base64 of its raw 32 bytes; ValueError names what is wrong."""
    try:
        raw = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise ValueError("not base64 (the raw 32-byte Ed25519 public key)") from None
    if len(raw) != 32:
        raise ValueError(f"{len(raw)} bytes, an Ed25519 public key has 32")
    return Ed25519PublicKey.from_public_bytes(raw)


@dataclass(frozen=True)
class Fingerprint:
    digest: bytes

    @property
    def hex(self) -> str:
        return self.digest.hex()

    @property
    def base32(self) -> str:
        return base64.b32encode(self.digest).decode("ascii").rstrip("=")

    @property
    def short(self) -> str:
        head = self.base32[:16]
        return "-".join(head[i : i + 4] for i in range(0, 16, 4))

    def __str__(self) -> str:
        return self.short


def fingerprint(key: Ed25519PublicKey) -> Fingerprint:
    return Fingerprint(hashlib.sha256(raw_public_key(key)).digest())
