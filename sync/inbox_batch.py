"""One inbox transaction's bookkeeping: which ids of a batch were applied or parked before,
where each stream stands, the runs of one type gathered for their `Effects`, and the dedupe
rows and stream positions written at the end, in the same transaction as the effects
(`sync.inbox`)."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from edge.store.schema import inbox_applied, inbox_parked, stream_positions
from edge.timeutil import format_utc
from sync.envelope import Envelope


class Incoming(NamedTuple):  # a tuple: made once per envelope on the receiver's hot path
    peer: str
    topic: str
    data: bytes


@dataclass(frozen=True)
class Effects:
    """An applier that takes several envelopes of its type at once, in their order: the inbox
    gathers a run of them and applies it before the next message of another type and before it
    records them as applied, in the same transaction (a statement per run, not per message)."""

    apply_many: Callable[[Connection, Sequence[Envelope]], None]

    def __call__(self, conn: Connection, envelope: Envelope) -> None:
        self.apply_many(conn, [envelope])


# The dedupe rows of a batch, in one plain executemany (times as `UtcTime` stores them).
_INSERT_APPLIED = (
    f"INSERT INTO {inbox_applied.name} (id, origin, type, stream, seq, peer, applied_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?)"
)

# Which ids of a batch (a JSON array: one statement, whatever their number) were applied, or
# are parked, before.
_APPLIED_OF = f"SELECT id FROM {inbox_applied.name} WHERE id IN (SELECT value FROM json_each(?))"
_PARKED_OF = f"SELECT id FROM {inbox_parked.name} WHERE id IN (SELECT value FROM json_each(?))"

# Where the streams of a batch stand, and which of them have messages parked.
_POSITIONS_OF = (
    f"SELECT stream, last_seq FROM {stream_positions.name}"
    " WHERE stream IN (SELECT value FROM json_each(?))"
)
_PARKED_STREAMS_OF = (
    f"SELECT DISTINCT stream FROM {inbox_parked.name}"
    " WHERE stream IN (SELECT value FROM json_each(?))"
)
_SAVE_POSITION = (
    f"INSERT INTO {stream_positions.name} (stream, last_seq) VALUES (?, ?)"
    " ON CONFLICT (stream) DO UPDATE SET last_seq = excluded.last_seq"
)

# Types whose streams are applied in order, and whose receipt the receiver acknowledges.
UNORDERED_TYPES = frozenset({"ack", "telemetry"})


class ApplyFailed(Exception):  # noqa: N818 - a signal, caught by the inbox
    def __init__(self, envelope: Envelope, detail: str) -> None:
        super().__init__(detail)
        self.envelope = envelope
        self.detail = detail


class Batch:
    """One transaction's view of the inbox: which ids are done, where each stream stands, and
    the rows to write at the end (one executemany instead of a statement per message)."""

    def __init__(self, conn: Connection, now: dt.datetime, envelopes: Sequence[Envelope]) -> None:
        self.conn = conn
        self.now = now
        self._applied_at = format_utc(now)
        self.to_ack: list[tuple[str, str]] = []
        self._rows: list[tuple[object, ...]] = []
        self._dirty: set[str] = set()  # streams whose position moved
        self._deferred: list[Envelope] = []  # a run of one type, for its Effects
        self._effects: Effects | None = None
        ids = [e.id for e in envelopes]
        streams = sorted({e.stream for e in envelopes})
        # Applied and parked are kept apart: a parked message that arrives again is a duplicate,
        # but it must still be applied when its gap fills.
        self.applied_ids: set[str] = set()
        self.parked_ids: set[str] = set()
        self._positions: dict[str, int] = {}
        if ids:
            listed = (json.dumps(ids),)
            self.applied_ids = set(conn.exec_driver_sql(_APPLIED_OF, listed).scalars())
            self.parked_ids = set(conn.exec_driver_sql(_PARKED_OF, listed).scalars())
        self._known_streams: set[str] = set()
        self.parked_streams: set[str] = set()
        if streams:
            self._load_streams(streams)

    def _load_streams(self, streams: Sequence[str]) -> None:
        # Plain SQL, the streams as one JSON array: once a batch, where building and compiling
        # two expressions with expanding IN cost more than the lookups.
        listed = (json.dumps(list(streams)),)
        rows = self.conn.exec_driver_sql(_POSITIONS_OF, listed)
        self._positions.update({stream: int(last) for stream, last in rows})
        self.parked_streams.update(self.conn.exec_driver_sql(_PARKED_STREAMS_OF, listed).scalars())
        self._known_streams.update(streams)

    def position(self, stream: str) -> int:
        if stream not in self._known_streams:
            self._load_streams([stream])
        return self._positions.get(stream, 0)

    def already_applied(self, message_id: str) -> bool:
        if message_id in self.applied_ids:
            return True
        found = self.conn.execute(
            select(inbox_applied.c.id).where(inbox_applied.c.id == message_id)
        ).first()
        return found is not None

    def applied(self, item: Incoming, envelope: Envelope) -> None:
        self.applied_ids.add(envelope.id)
        self.parked_ids.discard(envelope.id)
        self._rows.append(
            (
                envelope.id, envelope.origin, envelope.type, envelope.stream, envelope.seq,
                item.peer, self._applied_at,
            )
        )  # fmt: skip
        if envelope.type not in UNORDERED_TYPES:
            self.position(envelope.stream)
            self._positions[envelope.stream] = max(
                self._positions.get(envelope.stream, 0), envelope.seq
            )
            self._dirty.add(envelope.stream)

    def defer(self, effects: Effects, envelope: Envelope) -> None:
        if effects is not self._effects:
            self.apply_deferred()
            self._effects = effects
        self._deferred.append(envelope)

    def apply_deferred(self) -> None:
        if not self._deferred or self._effects is None:
            return
        envelopes, self._deferred = self._deferred, []
        try:
            self._effects.apply_many(self.conn, envelopes)
        except (ValueError, OverflowError, SQLAlchemyError) as error:
            # OverflowError: a number beyond what SQLite stores (a record's version of 2^63).
            # Which one failed is found when the batch is handled again a message at a time.
            raise ApplyFailed(envelopes[0], str(error)) from error

    def flush(self) -> None:
        self.apply_deferred()
        if self._rows:
            self.conn.exec_driver_sql(_INSERT_APPLIED, self._rows)
            self._rows = []
        if self._dirty:
            positions = [(stream, self._positions[stream]) for stream in sorted(self._dirty)]
            self.conn.exec_driver_sql(_SAVE_POSITION, positions)
        self._dirty = set()
