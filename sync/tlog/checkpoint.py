"""C2SP tlog-checkpoint (c2sp.org/tlog-checkpoint): the note text "origin\\nsize\\nroot\\n"
plus optional extension lines, signed by the log as a signed note."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Iterable
from dataclasses import dataclass

from sync.tlog.merkle import HASH_SIZE
from sync.tlog.note import NoteError, NoteSigner, NoteVerifier, VerifiedNote, open_note, sign_note

MAX_ORIGIN_CHARS = 255
MAX_EXTENSION_LINES = 16
MAX_SIZE = 2**63 - 1  # what every implementation's uint64/int64 carries
_DECIMAL = re.compile(r"0|[1-9][0-9]{0,18}")


class CheckpointError(ValueError):
    """A checkpoint body that is not origin, size, root hash and extension lines."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root_hash: bytes
    extensions: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_origin(self.origin)
        if not 0 <= self.size <= MAX_SIZE:
            raise CheckpointError(f"size {self.size}: must be within 0 .. 2**63-1")
        if len(self.root_hash) != HASH_SIZE:
            raise CheckpointError(f"root hash: {len(self.root_hash)} bytes, expected {HASH_SIZE}")
        if len(self.extensions) > MAX_EXTENSION_LINES:
            raise CheckpointError(
                f"{len(self.extensions)} extension lines, at most {MAX_EXTENSION_LINES}"
            )
        for i, line in enumerate(self.extensions):
            if not line or "\n" in line or any(c < " " for c in line):
                raise CheckpointError(f"extension line {i + 1}: must be non-empty, one line")

    def body(self) -> str:
        """The note text, ending with a newline; what the log signs and witnesses cosign."""
        root = base64.b64encode(self.root_hash).decode()
        return "".join(
            f"{line}\n" for line in (self.origin, str(self.size), root, *self.extensions)
        )


def _check_origin(origin: str) -> None:
    if not origin:
        raise CheckpointError("origin: empty")
    if len(origin) > MAX_ORIGIN_CHARS:
        raise CheckpointError(f"origin: {len(origin)} characters, at most {MAX_ORIGIN_CHARS}")
    if any(c < " " for c in origin):
        raise CheckpointError(f"origin {origin!r}: control characters")


def parse_checkpoint(text: str) -> Checkpoint:
    """Read a checkpoint body (a note's text), strictly: decimal size without leading zeros,
    canonical base64 of a 32-byte root, non-empty extension lines."""
    if not text.endswith("\n"):
        raise CheckpointError("checkpoint: must end with a newline")
    lines = text[:-1].split("\n")
    if len(lines) < 3:
        raise CheckpointError(f"checkpoint: {len(lines)} lines, needs origin, size and root hash")
    origin, size_line, root_line, *extensions = lines
    if not _DECIMAL.fullmatch(size_line):
        raise CheckpointError(
            f"checkpoint size {size_line[:40]!r}: not a decimal without leading zeros"
        )
    try:
        root = base64.b64decode(root_line, validate=True)
    except binascii.Error:
        raise CheckpointError(f"checkpoint root hash {root_line[:60]!r}: not base64") from None
    if base64.b64encode(root).decode() != root_line:
        raise CheckpointError(f"checkpoint root hash {root_line[:60]!r}: not canonical base64")
    return Checkpoint(origin, int(size_line), root, tuple(extensions))


def sign_checkpoint(checkpoint: Checkpoint, signer: NoteSigner) -> bytes:
    """The signed note of `checkpoint`; the log's key name should be its origin."""
    return sign_note(checkpoint.body(), [signer])


@dataclass(frozen=True)
class SignedCheckpoint:
    checkpoint: Checkpoint
    note: VerifiedNote


def open_checkpoint(
    data: bytes, log: NoteVerifier, others: Iterable[NoteVerifier] = ()
) -> SignedCheckpoint:
    """Verify a signed checkpoint: the log's signature must be there and valid; signatures
    of `others` (witnesses) are verified if present; unknown signers are ignored."""
    try:
        note = open_note(data, [log, *others])
    except NoteError as e:
        raise CheckpointError(f"checkpoint note: {e}") from None
    if not any(s.name == log.name and s.key_id == log.key_id for s in note.verified):
        raise CheckpointError(
            f"checkpoint: not signed by the log key {log.name}+{log.key_id.hex()}"
        )
    return SignedCheckpoint(parse_checkpoint(note.text), note)
