"""The SQL of sync's hot paths for each database it runs on: SQLite (the box, a small centre)
and PostgreSQL (the centre in production, several instances sharing one server).

Each statement is written once, in SQLite's form, and rendered for PostgreSQL: `?` becomes
`%s`, and a batch's ids (`{any}`, one parameter whatever their number) are a JSON array read
with `json_each` on SQLite and an array compared with `= ANY` on PostgreSQL. What must differ
differs here only:

- Queue order. SQLite orders by (rank, rowid): the rowid is in every index entry, so the
  queue index gives the order with no sort. PostgreSQL has no rowid; it orders by (rank, id),
  the id a UUIDv7, time-ordered and strictly increasing within a process (uuid6 bumps the
  millisecond when two ids would share one). Messages sent at once by two instances may
  interleave out of seq order across them; the receiver parks a seq that arrives ahead of its
  predecessor until it comes, as it does for a broker's losses.
- Several writers. SQLite has one writer at a time, so nothing here locks. On PostgreSQL,
  `take` locks the rows it takes and skips those another instance holds (FOR UPDATE SKIP
  LOCKED), a stream's sequence row is locked from the read of its last seq to the commit, and
  the inbox holds a transaction-scoped advisory lock on each stream it applies (see
  `lock_streams`), so two instances never apply one message twice nor a stream out of order.
"""

from __future__ import annotations

import json
import zlib
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from edge.store.schema import inbox_applied, inbox_parked, peer_events, stream_positions
from sync.messages import UNORDERED_TYPES

SQLITE = "sqlite"
POSTGRESQL = "postgresql"

# Message types whose broker acknowledgement is enough: the receiver does not acknowledge them.
BROKER_ACK_ENOUGH = tuple(sorted(UNORDERED_TYPES))  # the receiver sends no ack for these
UNDELIVERED = ("pending", "inflight", "acked")

# The advisory-lock class of inbox streams (the two-key form: apart from any one-key lock the
# centre takes for its periodic jobs). "sync" in ASCII.
STREAM_LOCK_CLASS = 0x73796E63

_OUTBOX_COLUMNS = (
    "id, peer, rank, type, destination, stream, seq, topic, created_at, expires_at, state, attempts"
)
_TAKE = (
    "SELECT o.id, o.topic, e.envelope, o.rank, o.stream, o.seq, o.expires_at"
    " FROM outbox AS o JOIN outbox_envelopes AS e ON e.id = o.id"
    " WHERE o.peer = ? AND o.state = 'pending' {rank} ORDER BY o.rank, {order} LIMIT ?{lock}"
)


@dataclass(frozen=True)
class SyncSql:
    """Sync's statements for one dialect, for `Connection.exec_driver_sql`."""

    dialect: str
    # Orders the outbox queue after its rank: "rowid" on SQLite, "id" on PostgreSQL.
    queue_order: str
    # A batch of ids (or streams) as the one parameter of an `{any}` clause.
    listed: Callable[[Sequence[str]], object]
    # -- the outbox
    insert_message: str
    insert_envelope: str
    unconfirmed: str
    take: str
    take_evidence: str  # flow control holds back all but evidence
    in_flight: str
    broker_acked: str
    delivered: str
    latest_of_streams: str
    release_refused: str
    last_seq: str  # on PostgreSQL also creates and locks the stream's row until commit
    save_seq: str
    add_to_counter: str
    # -- the inbox
    insert_applied: str
    applied_of: str
    parked_of: str
    positions_of: str
    parked_streams_of: str
    save_position: str
    park: str
    insert_event: str
    lock_streams: str | None  # None where one writer at a time needs no lock

    def delete_older(self, table: str, column: str, chunk: int, where: str = "") -> str:
        """Delete up to `chunk` rows of `table` whose `column` is before the parameter (and
        that meet `where`, an SQL condition of literals)."""
        key = "rowid" if self.dialect == SQLITE else "id"  # each purged table's key is `id`
        also = f" AND {where}" if where else ""
        return self.render(
            f"DELETE FROM {table} WHERE {key} IN"
            f" (SELECT {key} FROM {table} WHERE {column} < ?{also} LIMIT {chunk})"
        )

    def render(self, template: str) -> str:
        """A statement written in SQLite's form (`?`, `{any}`) for this dialect."""
        return _render(template, self.dialect)

    def lock(self, conn: Connection, streams: Iterable[str]) -> None:
        """Hold each stream until the transaction ends, in one order for all (no deadlock)."""
        if self.lock_streams is None:
            return
        keys = sorted({stream_lock_key(stream) for stream in streams})
        if keys:
            conn.exec_driver_sql(self.lock_streams, (STREAM_LOCK_CLASS, keys)).close()


def stream_lock_key(stream: str) -> int:
    """A stream's advisory-lock key: its CRC-32 as a signed 32-bit integer (two streams that
    share one only wait for each other)."""
    crc = zlib.crc32(stream.encode())
    return crc - 2**32 if crc >= 2**31 else crc


def _render(template: str, dialect: str) -> str:
    if dialect == SQLITE:
        return template.replace("{any}", "IN (SELECT value FROM json_each(?))")
    if "%" in template:
        raise ValueError(f"{template!r}: a literal % would be read as a parameter")
    return template.replace("?", "%s").replace("{any}", "= ANY(%s)")


def _statements(dialect: str) -> SyncSql:
    def sql(template: str) -> str:
        return _render(template, dialect)

    postgresql = dialect == POSTGRESQL
    order = "o.id" if postgresql else "o.rowid"
    lock = " FOR UPDATE OF o SKIP LOCKED" if postgresql else ""
    applied, parked = inbox_applied.name, inbox_parked.name
    return SyncSql(
        dialect=dialect,
        queue_order="id" if postgresql else "rowid",
        listed=list if postgresql else _json_list,
        insert_message=sql(
            f"INSERT INTO outbox ({_OUTBOX_COLUMNS})"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'pending', 0)"
        ),
        insert_envelope=sql("INSERT INTO outbox_envelopes (id, envelope) VALUES (?, ?)"),
        unconfirmed=sql(
            "SELECT count(*) FROM outbox WHERE peer = ? AND state IN ('inflight', 'acked')"
        ),
        take=sql(_TAKE.format(rank="", order=order, lock=lock)),
        take_evidence=sql(_TAKE.format(rank="AND o.rank = 0", order=order, lock=lock)),
        in_flight=sql(
            "UPDATE outbox SET state = 'inflight', sent_at = ?, attempts = attempts + 1"
            " WHERE id {any}"
        ),
        broker_acked=sql(
            f"UPDATE outbox SET acked_at = ?, state = CASE WHEN type IN {BROKER_ACK_ENOUGH!r}"
            " THEN 'delivered' ELSE 'acked' END WHERE id {any} AND state = 'inflight'"
        ),
        delivered=sql(
            f"UPDATE outbox SET state = 'delivered' WHERE id {{any}} AND state IN {UNDELIVERED!r}"
        ),
        latest_of_streams=sql(
            "SELECT peer, stream, max(seq) FROM outbox WHERE id {any} GROUP BY peer, stream"
        ),
        release_refused=sql(
            "UPDATE outbox SET state = 'pending' WHERE peer = ? AND state = 'refused'"
            " AND (retry_at IS NULL OR retry_at <= ?)"
        ),
        last_seq=sql(
            # The upsert that changes nothing takes the row's lock: a second sender on the
            # stream waits here for the first one's commit, then reads its last seq.
            "INSERT INTO stream_sequences (stream, last_seq) VALUES (?, 0) ON CONFLICT (stream)"
            " DO UPDATE SET last_seq = stream_sequences.last_seq RETURNING last_seq"
            if postgresql
            else "SELECT last_seq FROM stream_sequences WHERE stream = ?"
        ),
        save_seq=sql(
            "INSERT INTO stream_sequences (stream, last_seq) VALUES (?, ?)"
            " ON CONFLICT (stream) DO UPDATE SET last_seq = excluded.last_seq"
        ),
        add_to_counter=sql(
            "INSERT INTO sync_counters (peer, name, value) VALUES (?, ?, ?) ON CONFLICT"
            " (peer, name) DO UPDATE SET value = sync_counters.value + excluded.value"
        ),
        insert_applied=sql(
            f"INSERT INTO {applied} (id, origin, type, stream, seq, peer, applied_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
        ),
        applied_of=sql(f"SELECT id FROM {applied} WHERE id {{any}}"),
        parked_of=sql(f"SELECT id FROM {parked} WHERE id {{any}}"),
        positions_of=sql(
            f"SELECT stream, last_seq FROM {stream_positions.name} WHERE stream {{any}}"
        ),
        parked_streams_of=sql(f"SELECT DISTINCT stream FROM {parked} WHERE stream {{any}}"),
        save_position=sql(
            f"INSERT INTO {stream_positions.name} (stream, last_seq) VALUES (?, ?)"
            " ON CONFLICT (stream) DO UPDATE SET last_seq = excluded.last_seq"
        ),
        park=sql(
            f"INSERT INTO {parked} (id, stream, seq, peer, topic, data, parked_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
        ),
        insert_event=sql(
            f"INSERT INTO {peer_events.name} (id, type, origin, created_at, payload)"
            " VALUES (?, ?, ?, ?, ?) ON CONFLICT (id) DO NOTHING"
        ),
        lock_streams=(
            "SELECT pg_advisory_xact_lock(%s, k) FROM unnest(%s::int4[]) AS k"
            if postgresql
            else None
        ),
    )


def _json_list(values: Sequence[str]) -> str:
    return json.dumps(list(values))


_BY_DIALECT = {name: _statements(name) for name in (SQLITE, POSTGRESQL)}


def sync_sql(bind: Engine | Connection) -> SyncSql:
    """The statements for the database behind `bind`."""
    name = bind.dialect.name
    found = _BY_DIALECT.get(name)
    if found is None:
        raise ValueError(
            f"sync: database {name!r} is not supported; use sqlite or postgresql+psycopg"
        )
    return found
