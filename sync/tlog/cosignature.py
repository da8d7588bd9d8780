"""C2SP tlog-cosignature v1, Ed25519 (c2sp.org/tlog-cosignature): a witness signs
"cosignature/v1\\ntime <T>\\n" + the checkpoint body, and the note signature carries the
timestamp before the Ed25519 signature. Key type 0x04 keeps these keys apart from plain
note keys (0x01) even under the same name."""

from __future__ import annotations

import struct
from collections.abc import Iterable
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.tlog.checkpoint import Checkpoint
from sync.tlog.note import NoteSignature, check_key_name, key_id, raw_public_key

COSIGNATURE_TYPE = 0x04
MAX_TIMESTAMP = 2**63 - 1
_SIGNATURE_BYTES = 8 + 64


class CosignatureError(ValueError):
    """A cosignature that is malformed or does not verify."""


def cosigned_message(body: bytes, timestamp: int) -> bytes:
    if not 0 <= timestamp <= MAX_TIMESTAMP:
        raise CosignatureError(f"timestamp {timestamp}: must be within 0 .. 2**63-1")
    return b"cosignature/v1\ntime %d\n" % timestamp + body


class Ed25519CosignatureVerifier:
    """A witness key as a note verifier: plugs into `open_note` / `open_checkpoint`."""

    def __init__(self, name: str, public_key: Ed25519PublicKey) -> None:
        check_key_name(name)
        self.name = name
        self.public_key = public_key
        self.key_id = key_id(name, COSIGNATURE_TYPE, raw_public_key(public_key))

    def verify(self, text: bytes, signature: bytes) -> bool:
        if len(signature) != _SIGNATURE_BYTES:
            return False
        timestamp = timestamp_of(signature)
        if timestamp > MAX_TIMESTAMP:
            return False
        try:
            self.public_key.verify(signature[8:], cosigned_message(text, timestamp))
        except InvalidSignature:
            return False
        return True


def timestamp_of(signature: bytes) -> int:
    """The POSIX time a cosignature states (read before or after verification)."""
    if len(signature) != _SIGNATURE_BYTES:
        raise CosignatureError(f"cosignature: {len(signature)} bytes, expected {_SIGNATURE_BYTES}")
    (timestamp,) = struct.unpack(">Q", signature[:8])
    return int(timestamp)


class Ed25519Cosigner:
    def __init__(self, name: str, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        self.verifier = Ed25519CosignatureVerifier(name, private_key.public_key())
        self.name = name
        self.key_id = self.verifier.key_id

    def cosign(self, checkpoint: Checkpoint, timestamp: int) -> NoteSignature:
        """The signature line to add to the log's checkpoint note (see `sign_note`'s `keep`)."""
        message = cosigned_message(checkpoint.body().encode(), timestamp)
        signature = struct.pack(">Q", timestamp) + self._key.sign(message)
        return NoteSignature(self.name, self.key_id, signature)


@dataclass(frozen=True)
class Cosignature:
    witness: str
    timestamp: int


def cosignatures(
    signatures: Iterable[NoteSignature], witnesses: Iterable[Ed25519CosignatureVerifier]
) -> list[Cosignature]:
    """Of a note's verified signatures, those made by the given witnesses, with their times."""
    ids = {(w.name, w.key_id) for w in witnesses}
    return [
        Cosignature(s.name, timestamp_of(s.signature))
        for s in signatures
        if (s.name, s.key_id) in ids
    ]
