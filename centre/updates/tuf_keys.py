"""The repository's role keys: one Ed25519 key per file in the key directory, named by role and
key id (`timestamp-<keyid>.key`), PKCS#8 PEM, mode 0600 in a 0700 directory. A key file that
others can read is refused rather than used."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from cryptography.hazmat.primitives.serialization import load_pem_private_key
from securesystemslib.signer._crypto_signer import CryptoSigner
from securesystemslib.signer._key import SSlibKey

from provisioning.identity.files import write_atomically

ROLES = ("root", "targets", "snapshot", "timestamp")


class RoleKeyError(Exception):
    """A role key is missing or unsafe; the message names the file and the fix."""


def key_path(keys_dir: Path, role: str, keyid: str) -> Path:
    return keys_dir / f"{role}-{keyid}.key"


def new_signer(keys_dir: Path, role: str) -> CryptoSigner:
    """A new Ed25519 key for `role`, written to the key directory before it is used."""
    keys_dir.mkdir(parents=True, exist_ok=True)
    os.chmod(keys_dir, 0o700)
    signer = CryptoSigner.generate_ed25519()
    write_atomically(key_path(keys_dir, role, signer.public_key.keyid), signer.private_bytes,
                     mode=0o600)  # fmt: skip
    return signer


def load_signer(keys_dir: Path, role: str, public_key: SSlibKey) -> CryptoSigner | None:
    """The signer of `public_key`, or None when its private key is not here (kept offline)."""
    path = key_path(keys_dir, role, public_key.keyid)
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        return None
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise RoleKeyError(f"{path}: readable by others (mode {oct(mode & 0o777)}); chmod 600 it")
    private = load_pem_private_key(path.read_bytes(), password=None)
    return CryptoSigner(private, public_key)


def retire(keys_dir: Path, role: str, keyid: str) -> None:
    """Move a key that no longer signs into retired/ (kept for the record, not loaded)."""
    path = key_path(keys_dir, role, keyid)
    if path.exists():
        retired = keys_dir / "retired"
        retired.mkdir(mode=0o700, exist_ok=True)
        path.rename(retired / path.name)
