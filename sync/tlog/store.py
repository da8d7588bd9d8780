"""A node's transparency log in its own database (SQLite on the box, SQLite or PostgreSQL at
the centre): entries, the tree's tiles, signed checkpoints and their cosignatures.

Appending is one insert in the transaction that signs or applies the envelope (`append`), so an
envelope is logged exactly when it is stored, and a rollback takes its entry with it. The
integrator (`TransparencyLog.integrate`) then gives the queued entries the next leaf indices
in the order they were appended and writes the tiles, as Trillian's sequencer does: the hot
path never waits for a tree, and on PostgreSQL several instances append without a shared
counter while one integrates at a time (an advisory lock).

A leaf is the entry's canonical text (`entry_leaf`): kind, message id, type, the other party
and the SHA-256 of the envelope's exact bytes. Whoever holds the envelope can rebuild the leaf
and check it against a checkpoint with the inclusion proof; the log never holds the envelope.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Connection, Engine, Executable, Row, Table, delete, func, select
from sqlalchemy.dialects import postgresql, sqlite

from edge.store.schema import (
    tlog_checkpoints,
    tlog_cosignatures,
    tlog_entries,
    tlog_tiles,
    tlog_witnessed,
)
from edge.timeutil import format_utc, utcnow
from sync.dialect import POSTGRESQL, sync_sql
from sync.tlog.checkpoint import Checkpoint, parse_checkpoint, sign_checkpoint
from sync.tlog.merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    tree_hash,
)
from sync.tlog.note import Ed25519NoteSigner, Ed25519NoteVerifier, Note, NoteSignature, parse_note
from sync.tlog.tiles import TILE_WIDTH, TileHashReader

# Envelopes that are not logged: acknowledgements (transport bookkeeping, one per message
# applied) and the log's own checkpoints and cosignatures (each signed already, and logging
# them would make every checkpoint the cause of the next).
UNLOGGED_TYPES = frozenset({"ack", "checkpoint", "cosignature"})

ENTRY_FORMAT = "carec-tlog-entry/1"
CHECKPOINT_EVERY = dt.timedelta(minutes=5)
INTEGRATE_BATCH = 50_000  # entries a transaction; the rest in the next

# The advisory lock (two-key form) that one integrator holds on PostgreSQL: "tlog" in ASCII.
_LOCK_CLASS, _LOCK_KEY = 0x746C6F67, 1


class EntryKind(StrEnum):
    SIGNED = "signed"  # this node signed the envelope (its party: the destination)
    APPLIED = "applied"  # this node applied it (its party: the origin)


class LogError(ValueError):
    """The log cannot answer: an unknown message, a size it never had, a tile missing."""


def log_origin(node_id: str) -> str:
    """The checkpoint origin (and note key name) of `node_id`'s log."""
    return f"carec-edge/{node_id}"


def entry_leaf(
    kind: str, message_id: str, message_type: str, party: str, envelope_sha256: bytes
) -> bytes:
    """The leaf's bytes: what the tree hashes (RFC 9162: SHA-256 of 0x00 and these)."""
    return (
        f"{ENTRY_FORMAT}\n{kind}\n{message_id}\n{message_type}\n{party}\n{envelope_sha256.hex()}\n"
    ).encode()


@dataclass(frozen=True)
class LogEntry:
    leaf_index: int | None  # None until integrated
    message_id: str
    kind: str
    type: str
    party: str
    envelope_sha256: bytes
    recorded_at: dt.datetime

    def leaf(self) -> bytes:
        return entry_leaf(self.kind, self.message_id, self.type, self.party, self.envelope_sha256)

    def to_dict(self) -> dict[str, object]:
        return {
            "leaf_index": self.leaf_index, "message_id": self.message_id, "kind": self.kind,
            "type": self.type, "party": self.party,
            "envelope_sha256": self.envelope_sha256.hex(),
            "recorded_at": format_utc(self.recorded_at),
        }  # fmt: skip


@dataclass(frozen=True)
class StoredCheckpoint:
    size: int
    root_hash: bytes
    note: bytes  # the log's signed note, without cosignatures
    created_at: dt.datetime


# -- appending (on the hot paths, in the caller's transaction) --------------------------------

# (message id, kind, type, party, SHA-256 of the envelope's bytes)
PendingEntry = tuple[str, str, str, str, bytes]


def pending_entry(
    kind: EntryKind, message_id: str, message_type: str, party: str, envelope: bytes
) -> PendingEntry | None:
    """The entry to append for an envelope, or None for a type that is not logged."""
    if message_type in UNLOGGED_TYPES:
        return None
    return (message_id, kind.value, message_type, party, hashlib.sha256(envelope).digest())


_INSERT = (
    "INSERT INTO tlog_entries (message_id, kind, type, party, envelope_sha256, recorded_at)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)


def append(conn: Connection, entries: Sequence[PendingEntry], recorded_at: str) -> None:
    """Queue `entries` for the log, in the caller's transaction (one executemany)."""
    if entries:
        conn.exec_driver_sql(
            sync_sql(conn).render(_INSERT), [(*entry, recorded_at) for entry in entries]
        )


# -- the log ----------------------------------------------------------------------------------


class DatabaseTiles:
    """A TileSource over `tlog_tiles`, on one connection."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def tile(self, level: int, index: int, width: int) -> bytes:
        row = self._conn.execute(
            select(tlog_tiles.c.width, tlog_tiles.c.hashes).where(
                tlog_tiles.c.level == level, tlog_tiles.c.tile_index == index
            )
        ).first()
        if row is None or row.width < width:
            raise LogError(f"tile ({level}, {index}) of width {width}: not stored")
        return bytes(row.hashes[: width * HASH_SIZE])


class TransparencyLog:
    """One node's log: `append` queues, `integrate` grows the tree, `checkpoint` signs it."""

    def __init__(self, engine: Engine, node_id: str, private_key: Ed25519PrivateKey) -> None:
        self.engine = engine
        self.node_id = node_id
        self.origin = log_origin(node_id)
        self.signer = Ed25519NoteSigner(self.origin, private_key)
        self.public_key = private_key.public_key()
        self.verifier = Ed25519NoteVerifier(self.origin, self.public_key)

    @property
    def vkey(self) -> str:
        """The log's verifier key string (Go's note format): what an auditor needs."""
        return self.verifier.vkey()

    # -- growing the tree ----------------------------------------------------------------------

    def integrate(self, limit: int = INTEGRATE_BATCH) -> int:
        """Give up to `limit` queued entries their leaf indices and write the tiles; the tree's
        size after."""
        with self.engine.begin() as conn:
            self._lock(conn)
            size = tree_size(conn)
            rows = conn.execute(
                select(
                    tlog_entries.c.id, tlog_entries.c.message_id, tlog_entries.c.kind,
                    tlog_entries.c.type, tlog_entries.c.party, tlog_entries.c.envelope_sha256,
                )
                .where(tlog_entries.c.leaf_index.is_(None))
                .order_by(tlog_entries.c.id)
                .limit(limit)
            ).all()  # fmt: skip
            if not rows:
                return size
            conn.exec_driver_sql(
                sync_sql(conn).render("UPDATE tlog_entries SET leaf_index = ? WHERE id = ?"),
                [(size + i, row.id) for i, row in enumerate(rows)],
            )
            leaves = [
                leaf_hash(
                    entry_leaf(r.kind, r.message_id, r.type, r.party, bytes(r.envelope_sha256))
                )
                for r in rows
            ]
            _write_hashes(conn, 0, size, leaves)
            return size + len(rows)

    def integrate_all(self) -> int:
        while True:
            before = self.size()
            after = self.integrate()
            if after == before:
                return after

    @staticmethod
    def _lock(conn: Connection) -> None:
        if conn.dialect.name == POSTGRESQL:
            conn.exec_driver_sql("SELECT pg_advisory_xact_lock(%s, %s)", (_LOCK_CLASS, _LOCK_KEY))

    def size(self) -> int:
        with self.engine.connect() as conn:
            return tree_size(conn)

    def queued(self) -> int:
        """Entries appended and not integrated yet."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(func.count()).where(tlog_entries.c.leaf_index.is_(None))
            ).scalar_one()

    # -- reading the tree ----------------------------------------------------------------------

    @contextmanager
    def reader(self, size: int | None = None) -> Iterator[TileHashReader]:
        """A hash reader of the tree at `size` (now, if None), on one connection."""
        with self.engine.connect() as conn:
            now = tree_size(conn)
            if size is None:
                size = now
            if size > now:
                raise LogError(f"size {size}: the log has {now} entries")
            yield TileHashReader(DatabaseTiles(conn), size)

    def root(self, size: int | None = None) -> bytes:
        with self.reader(size) as reader:
            return tree_hash(reader, reader.size) if reader.size else EMPTY_ROOT

    def inclusion_proof(self, leaf_index: int, size: int) -> list[bytes]:
        with self.reader(size) as reader:
            return inclusion_proof(reader, leaf_index, size)

    def consistency_proof(self, old_size: int, new_size: int) -> list[bytes]:
        with self.reader(new_size) as reader:
            return consistency_proof(reader, old_size, new_size)

    def entries_of(self, message_id: str) -> list[LogEntry]:
        """The entries of one message (signed here, applied here, or both), oldest first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tlog_entries)
                .where(tlog_entries.c.message_id == message_id)
                .order_by(tlog_entries.c.id)
            ).all()
        return [_entry(row) for row in rows]

    def entries(self, start: int, end: int) -> list[LogEntry]:
        """Integrated entries with leaf indices in [start, end), in order."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(tlog_entries)
                .where(tlog_entries.c.leaf_index >= start, tlog_entries.c.leaf_index < end)
                .order_by(tlog_entries.c.leaf_index)
            ).all()
        return [_entry(row) for row in rows]

    # -- checkpoints ---------------------------------------------------------------------------

    def checkpoint(self, now: dt.datetime | None = None) -> StoredCheckpoint:
        """Integrate what is queued and sign a checkpoint of the tree, unless the latest one
        already has its size; the latest checkpoint either way."""
        size = self.integrate_all()
        latest = self.latest_checkpoint()
        if latest is not None and latest.size == size:
            return latest
        now = now or utcnow()
        root = self.root(size)
        note = sign_checkpoint(
            Checkpoint(self.origin, size, root, (f"time {format_utc(now)}",)), self.signer
        )
        with self.engine.begin() as conn:
            conn.execute(
                _upsert_nothing(conn, tlog_checkpoints, ["size"]),
                {"size": size, "root_hash": root, "note": note.decode(), "created_at": now},
            )
            row = conn.execute(
                select(tlog_checkpoints).where(tlog_checkpoints.c.size == size)
            ).one()
        return _checkpoint(row)

    def checkpoint_due(
        self, now: dt.datetime | None = None, every: dt.timedelta = CHECKPOINT_EVERY
    ) -> bool:
        """Whether entries arrived since the latest checkpoint and it is `every` old."""
        now = now or utcnow()
        latest = self.latest_checkpoint()
        if latest is None:
            return self.size() > 0 or self.queued() > 0
        if now - latest.created_at < every:
            return False
        return self.size() > latest.size or self.queued() > 0

    def latest_checkpoint(self) -> StoredCheckpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tlog_checkpoints).order_by(tlog_checkpoints.c.size.desc()).limit(1)
            ).first()
        return None if row is None else _checkpoint(row)

    def checkpoint_at(self, size: int) -> StoredCheckpoint | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(tlog_checkpoints).where(tlog_checkpoints.c.size == size)
            ).first()
        return None if row is None else _checkpoint(row)

    def checkpoints(self) -> list[StoredCheckpoint]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(tlog_checkpoints).order_by(tlog_checkpoints.c.size)).all()
        return [_checkpoint(row) for row in rows]

    # -- cosignatures --------------------------------------------------------------------------

    def add_cosignature(
        self, size: int, witness: str, signature: NoteSignature, now: dt.datetime | None = None
    ) -> bool:
        """Keep a witness's cosignature of the checkpoint of `size` (the caller verified it);
        False when that witness's cosignature of it was kept already."""
        with self.engine.begin() as conn:
            result = conn.execute(
                _upsert_nothing(conn, tlog_cosignatures, ["size", "witness"]),
                {
                    "size": size, "witness": witness, "signature": signature.line(),
                    "received_at": now or utcnow(),
                },
            )  # fmt: skip
            return bool(result.rowcount)

    def cosigned_note(self, size: int) -> bytes:
        """The checkpoint of `size` with every cosignature gathered for it: what the node
        publishes."""
        stored = self.checkpoint_at(size)
        if stored is None:
            raise LogError(f"no checkpoint of size {size}")
        with self.engine.connect() as conn:
            lines = conn.execute(
                select(tlog_cosignatures.c.signature)
                .where(tlog_cosignatures.c.size == size)
                .order_by(tlog_cosignatures.c.witness)
            ).scalars()
            extra = "".join(lines)
        note = parse_note(stored.note)
        return Note(note.text, note.signatures).encode() + extra.encode()

    def cosigners(self, size: int) -> list[str]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(tlog_cosignatures.c.witness)
                    .where(tlog_cosignatures.c.size == size)
                    .order_by(tlog_cosignatures.c.witness)
                ).scalars()
            )

    def best_checkpoint_for(self, leaf_index: int) -> StoredCheckpoint | None:
        """The checkpoint to prove `leaf_index` in: the latest with the most cosignatures among
        those that include it."""
        with self.engine.connect() as conn:
            counts = (
                select(tlog_cosignatures.c.size, func.count().label("n"))
                .group_by(tlog_cosignatures.c.size)
                .subquery()
            )
            row = conn.execute(
                select(tlog_checkpoints)
                .outerjoin(counts, counts.c.size == tlog_checkpoints.c.size)
                .where(tlog_checkpoints.c.size > leaf_index)
                .order_by(func.coalesce(counts.c.n, 0).desc(), tlog_checkpoints.c.size.desc())
                .limit(1)
            ).first()
        return None if row is None else _checkpoint(row)

    # -- retention -----------------------------------------------------------------------------

    def purge(self, before: dt.datetime, chunk: int = 5000) -> dict[str, int]:
        """Forget entries, checkpoints, cosignatures, witnessed checkpoints and alerts older
        than `before` (the legal retention), in chunks of a transaction each. The latest
        checkpoint, and the latest witnessed one of each log, stay whatever their age: the next
        proof is made from them. The tiles stay too: 32 bytes an entry keep every later
        checkpoint's proofs computable."""
        deleted = dict.fromkeys(
            ("tlog_entries", "tlog_checkpoints", "tlog_cosignatures", "tlog_witnessed",
             "tlog_alerts"), 0,
        )  # fmt: skip
        sql = sync_sql(self.engine)
        stamp = format_utc(before)
        for table, column, where in (
            ("tlog_entries", "recorded_at", "leaf_index IS NOT NULL"),
            ("tlog_alerts", "detected_at", ""),
        ):
            while True:
                with self.engine.begin() as conn:
                    n = conn.exec_driver_sql(
                        sql.delete_older(table, column, chunk, where), (stamp,)
                    ).rowcount
                deleted[table] += n
                if n < chunk:
                    break
        with self.engine.begin() as conn:
            latest = conn.execute(select(func.max(tlog_checkpoints.c.size))).scalar_one()
            old = tlog_checkpoints.c.created_at < before
            if latest is not None:
                old = old & (tlog_checkpoints.c.size != latest)
            sizes = select(tlog_checkpoints.c.size).where(old)
            deleted["tlog_cosignatures"] = conn.execute(
                delete(tlog_cosignatures).where(tlog_cosignatures.c.size.in_(sizes))
            ).rowcount
            deleted["tlog_checkpoints"] = conn.execute(delete(tlog_checkpoints).where(old)).rowcount
            newest = (
                select(tlog_witnessed.c.log_node, func.max(tlog_witnessed.c.size).label("size"))
                .group_by(tlog_witnessed.c.log_node)
                .subquery()
            )
            keep = select(newest.c.size).where(newest.c.log_node == tlog_witnessed.c.log_node)
            deleted["tlog_witnessed"] = conn.execute(
                delete(tlog_witnessed).where(
                    tlog_witnessed.c.seen_at < before,
                    tlog_witnessed.c.size < keep.scalar_subquery(),
                )
            ).rowcount
        return deleted


def tree_size(conn: Connection) -> int:
    """The integrated size, from the last level-0 tile."""
    row = conn.execute(
        select(tlog_tiles.c.tile_index, tlog_tiles.c.width)
        .where(tlog_tiles.c.level == 0)
        .order_by(tlog_tiles.c.tile_index.desc())
        .limit(1)
    ).first()
    return 0 if row is None else int(row.tile_index) * TILE_WIDTH + int(row.width)


def _write_hashes(conn: Connection, level: int, start: int, hashes: list[bytes]) -> None:
    """Store `hashes` at positions start.. of tile level `level`; every tile they fill up
    sends its root to the level above."""
    if not hashes:
        return
    first_tile = start // TILE_WIDTH
    offset = start % TILE_WIDTH
    head = b""
    if offset:
        row = conn.execute(
            select(tlog_tiles.c.width, tlog_tiles.c.hashes).where(
                tlog_tiles.c.level == level, tlog_tiles.c.tile_index == first_tile
            )
        ).first()
        if row is None or row.width != offset:
            raise LogError(f"tile ({level}, {first_tile}): expected {offset} hashes stored")
        head = bytes(row.hashes)
    data = head + b"".join(hashes)
    upper: list[bytes] = []
    rows = []
    for tile in range(0, len(data), TILE_WIDTH * HASH_SIZE):
        chunk = data[tile : tile + TILE_WIDTH * HASH_SIZE]
        width = len(chunk) // HASH_SIZE
        rows.append((level, first_tile + tile // (TILE_WIDTH * HASH_SIZE), width, chunk))
        if width == TILE_WIDTH:
            upper.append(_tile_root(chunk))
    conn.exec_driver_sql(
        sync_sql(conn).render(
            "INSERT INTO tlog_tiles (level, tile_index, width, hashes) VALUES (?, ?, ?, ?)"
            " ON CONFLICT (level, tile_index) DO UPDATE"
            " SET width = excluded.width, hashes = excluded.hashes"
        ),
        rows,
    )
    # The full tiles among these are the next hashes of the level above, in order.
    _write_hashes(conn, level + 1, first_tile, upper)


def _tile_root(data: bytes) -> bytes:
    row = [data[i : i + HASH_SIZE] for i in range(0, len(data), HASH_SIZE)]
    while len(row) > 1:
        row = [node_hash(row[i], row[i + 1]) for i in range(0, len(row), 2)]
    return row[0]


def _upsert_nothing(conn: Connection, table: Table, keys: list[str]) -> Executable:
    if conn.dialect.name == POSTGRESQL:
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)


def _entry(row: Row[Any]) -> LogEntry:
    return LogEntry(
        None if row.leaf_index is None else int(row.leaf_index), row.message_id, row.kind,
        row.type, row.party, bytes(row.envelope_sha256), row.recorded_at,
    )  # fmt: skip


def _checkpoint(row: Row[Any]) -> StoredCheckpoint:
    return StoredCheckpoint(int(row.size), bytes(row.root_hash), row.note.encode(), row.created_at)


def parse_stored(stored: StoredCheckpoint) -> Checkpoint:
    return parse_checkpoint(parse_note(stored.note).text)
