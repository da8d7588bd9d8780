"""A node's transparency log in a real SQLite store (the real migrations), filled with entries
as the outbox appends them: what the evidence tests and the CLI tests start from."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from edge.store import open_database
from edge.timeutil import format_utc
from sync.tlog.checkpoint import parse_checkpoint
from sync.tlog.cosignature import Ed25519Cosigner
from sync.tlog.note import parse_note
from sync.tlog.store import EntryKind, TransparencyLog, append, pending_entry

NODE = "KZ-NURZHOLY-1"
T0 = dt.datetime(2026, 12, 1, 8, 0, tzinfo=dt.UTC)


def envelope(n: int) -> bytes:
    return b'{"envelope": %d, "payload": "decision"}' % n


def message_id(n: int) -> str:
    return f"0193a000-0000-7000-8000-{n:012d}"


def fill(log: TransparencyLog, start: int, count: int) -> None:
    """Append entries start..start+count-1 (signed to the partner post), 500 a transaction."""
    for first in range(start, start + count, 500):
        with log.engine.begin() as conn:
            entries = [
                pending_entry(
                    EntryKind.SIGNED, message_id(n), "decision", "KG-TORUGART-1", envelope(n)
                )
                for n in range(first, min(start + count, first + 500))
            ]
            append(conn, [e for e in entries if e is not None], format_utc(T0))


def make_log(data_dir: Path, key: Ed25519PrivateKey | None = None) -> TransparencyLog:
    return TransparencyLog(open_database(data_dir), NODE, key or Ed25519PrivateKey.generate())


def cosign(
    log: TransparencyLog, size: int, witness: Ed25519Cosigner, at: int = 1_700_000_000
) -> None:
    stored = log.checkpoint_at(size)
    assert stored is not None
    checkpoint = parse_checkpoint(parse_note(stored.note).text)
    log.add_cosignature(size, witness.name, witness.cosign(checkpoint, at))


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()
