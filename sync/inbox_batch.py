"""One inbox transaction's bookkeeping: which ids of a batch were applied or parked before,
where each stream stands, the runs of one type gathered for their `Effects`, and the dedupe
rows and stream positions written at the end, in the same transaction as the effects
(`sync.inbox`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import NamedTuple

from sqlalchemy import Connection, select
from sqlalchemy.exc import SQLAlchemyError

from edge.store.schema import inbox_applied
from edge.timeutil import format_utc
from sync.dialect import sync_sql
from sync.envelope import Envelope
from sync.messages import UNORDERED_TYPES
from sync.tlog.store import EntryKind, PendingEntry, pending_entry
from sync.tlog.store import append as tlog_append


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


# The dedupe rows of a batch go in one plain executemany, and which ids of a batch were
# applied or parked before, and where its streams stand, are one statement each, the ids as one
# parameter whatever their number (`sync.dialect`, per database).

# Types whose streams are applied in order, and whose receipt the receiver acknowledges.


class ApplyFailed(Exception):  # noqa: N818 - a signal, caught by the inbox
    def __init__(self, envelope: Envelope, detail: str) -> None:
        super().__init__(detail)
        self.envelope = envelope
        self.detail = detail


class Batch:
    """One transaction's view of the inbox: which ids are done, where each stream stands, and
    the rows to write at the end (one executemany instead of a statement per message)."""

    def __init__(
        self,
        conn: Connection,
        now: dt.datetime,
        envelopes: Sequence[Envelope],
        *,
        transparency: bool = True,
    ) -> None:
        self.conn = conn
        # What is applied goes into the node's transparency log at `flush` (sync.tlog.store).
        self.transparency = transparency
        self._logged: list[PendingEntry] = []
        self.sql = sql = sync_sql(conn)
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
        self._known_streams: set[str] = set()
        self.parked_streams: set[str] = set()
        # Several writers (PostgreSQL): hold the batch's streams first, so that what is read
        # next is not applied meanwhile by another instance that received the same messages.
        sql.lock(conn, streams)
        if ids:
            listed = (sql.listed(ids),)
            self.applied_ids = set(conn.exec_driver_sql(sql.applied_of, listed).scalars())
            self.parked_ids = set(conn.exec_driver_sql(sql.parked_of, listed).scalars())
        if streams:
            self._load_streams(streams, locked=True)

    def _load_streams(self, streams: Sequence[str], locked: bool = False) -> None:
        # Plain SQL, the streams as one parameter: once a batch, where building and compiling
        # two expressions with expanding IN cost more than the lookups.
        if not locked:
            self.sql.lock(self.conn, streams)
        listed = (self.sql.listed(list(streams)),)
        rows = self.conn.exec_driver_sql(self.sql.positions_of, listed)
        self._positions.update({stream: int(last) for stream, last in rows})
        self.parked_streams.update(
            self.conn.exec_driver_sql(self.sql.parked_streams_of, listed).scalars()
        )
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
        if self.transparency:
            entry = pending_entry(
                EntryKind.APPLIED, envelope.id, envelope.type, envelope.origin, item.data
            )
            if entry is not None:
                self._logged.append(entry)
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
            self.conn.exec_driver_sql(self.sql.insert_applied, self._rows)
            self._rows = []
        if self._logged:
            tlog_append(self.conn, self._logged, self._applied_at)
            self._logged = []
        if self._dirty:
            positions = [(stream, self._positions[stream]) for stream in sorted(self._dirty)]
            self.conn.exec_driver_sql(self.sql.save_position, positions)
        self._dirty = set()
