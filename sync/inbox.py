"""The inbox: every message received is verified, applied exactly once and in its stream's
order, or quarantined.

A batch of received messages is handled in one transaction. Each message (or each envelope of
a frame, `sync.frame`) is checked (size, signature by a trusted origin, or the frame's one
signature over its exact bytes, destination, age, schema, and that its topic agrees with its
envelope), then, unless its id was applied before, applied and recorded as applied in a
savepoint of that transaction: the effect and the dedupe entry commit together or not at all.
What fails is kept in quarantine with its reason and has no effect. Only after the commit does
the transport acknowledge the messages to the broker, so a crash before it loses nothing: the
broker delivers them again, and the dedupe table drops those already applied. `receive` is
`check` (the verification, which touches no store and may run on the link's thread) then
`apply` (the transaction, on the store's thread), so a link can verify one batch while the
store commits the one before.

Order: evidence and operational streams are applied in `seq` order. A message that arrives
ahead of a gap (its predecessor lost by a broker and on its way again from the sender's
outbox) is parked, durably, until the gap fills, or until `gap_timeout`, after which it is
applied anyway and the gap counted, so a sender that lost its history cannot block a stream
for ever. Telemetry and acks have no order.

Acknowledgement: for each message applied (or already applied, or parked) that expects it, an
`ack` message goes back to its origin, queued in the same transaction, so the sender's outbox
stops sending it again.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import NamedTuple

from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import SQLAlchemyError

from edge.logs import log_event
from edge.store.schema import inbox_applied, inbox_parked, quarantine
from edge.timeutil import format_utc, utcnow
from sync.envelope import Envelope, EnvelopeRejected, KeyLookup, Reason, open_envelope
from sync.frame import is_frame, unpack
from sync.inbox_batch import ApplyFailed, Batch, Effects, Incoming
from sync.messages import UNORDERED_TYPES, Priority
from sync.topics import Route, TopicError, parse_topic

__all__ = [  # Incoming and Effects live in sync.inbox_batch, UNORDERED_TYPES in sync.messages
    "DEFAULT_MAX_AGE", "UNORDERED_TYPES", "Acknowledger", "Applier", "Checked", "Effects",
    "Inbox", "InboxCounters", "Incoming", "Outcome", "Result",
]  # fmt: skip

log = logging.getLogger(__name__)

# How much of a quarantined message is kept for review.
QUARANTINE_KEEP_BYTES = 64 * 1024

# The default age limits: evidence is never too old (it may have waited days for a link, or
# travelled on a USB stick); the rest goes stale.
DEFAULT_MAX_AGE: Mapping[Priority, dt.timedelta] = {
    Priority.OPERATIONAL: dt.timedelta(days=14),
    Priority.TELEMETRY: dt.timedelta(days=2),
}

# Applies one message's effect inside the inbox's transaction.
Applier = Callable[[Connection, Envelope], None]


class Outcome(StrEnum):
    APPLIED = "applied"
    DUPLICATE = "duplicate"  # applied before: dropped, acknowledged
    PARKED = "parked"  # ahead of a gap in its stream: kept, applied when the gap fills
    QUARANTINED = "quarantined"  # refused: kept for review, acknowledged, no effect


# Queues the receiver's acknowledgement of (origin, message id)s, in the inbox's transaction.
Acknowledger = Callable[[Connection, Sequence[tuple[str, str]]], None]


# One envelope as received, and what its verification made of it.
_Verified = tuple[Incoming, Envelope | EnvelopeRejected]


@dataclass(frozen=True)
class Checked:
    """A batch as `Inbox.check` left it: each envelope verified or refused, at `now`; nothing
    of it applied yet."""

    verified: list[_Verified]
    now: dt.datetime

    def __len__(self) -> int:
        return len(self.verified)


class Result(NamedTuple):  # a tuple: one per envelope received
    outcome: Outcome
    message_id: str | None = None
    reason: str | None = None  # a stable code, for quarantined messages
    detail: str | None = None


@dataclass
class InboxCounters:
    applied: int = 0
    duplicates: int = 0
    parked: int = 0
    quarantined: dict[str, int] = field(default_factory=dict)


class Inbox:
    def __init__(
        self,
        engine: Engine,
        node_id: str,
        key_for: KeyLookup,
        appliers: Mapping[str, Applier],
        *,
        max_age: Mapping[Priority, dt.timedelta] = DEFAULT_MAX_AGE,
        on_failed_transaction: Callable[[], None] | None = None,
        acknowledge: Acknowledger | None = None,
        gap_timeout: dt.timedelta = dt.timedelta(minutes=10),
        transparency: bool = True,
    ) -> None:
        self.engine = engine
        # Every envelope applied here goes into the node's transparency log (sync.tlog.store),
        # in the transaction that applies it; off only to measure what logging costs.
        self.transparency = transparency
        self.node_id = node_id
        self.key_for = key_for
        self.appliers = dict(appliers)
        self.max_age = dict(max_age)
        self.on_failed_transaction = on_failed_transaction
        self.acknowledge = acknowledge
        self.gap_timeout = gap_timeout
        self.counters = InboxCounters()

    def receive(self, batch: Sequence[Incoming]) -> list[Result]:
        """Handle a batch in one transaction; one result per envelope (a frame holds several),
        in order. Raises only when the database itself fails (then nothing of the batch took
        effect). `check`, then `apply`, in one call."""
        return self.apply(self.check(batch))

    def check(self, batch: Sequence[Incoming]) -> Checked:
        """The first half of `receive`: each envelope of the batch verified (signature, trust,
        content), or why it is refused. Touches no store, so it may run on any thread while
        the store's thread applies the previous batch."""
        now = utcnow()
        return Checked([pair for item in batch for pair in self._verify(item, now)], now)

    def apply(self, checked: Checked) -> list[Result]:
        """The second half of `receive`, on the store's thread: what `check` let through,
        applied in one transaction, the rest quarantined.

        When a message's effect cannot be applied (its applier raises), the batch is rolled
        back and handled again one message a transaction, so that only that one is quarantined.
        """
        verified, now = checked.verified, checked.now
        try:
            try:
                results = self._receive_batch(verified, now)
            except ApplyFailed:
                if self.on_failed_transaction:
                    self.on_failed_transaction()
                results = [r for pair in verified for r in self._receive_alone(pair, now)]
        except SQLAlchemyError:
            if self.on_failed_transaction:
                self.on_failed_transaction()
            raise
        for result in results:
            self._count(result)
        return results

    def quarantine_input(self, item: Incoming, reason: str, detail: str) -> Result:
        """Keep for review what never became an envelope (a bundle's line that is not one),
        with its reason, in a transaction of its own; counted as any quarantined message."""
        with self.engine.begin() as conn:
            result = self._quarantine(conn, item, utcnow(), reason, detail)
        self._count(result)
        return result

    def applied_among(self, ids: Sequence[str]) -> set[str]:
        """Which of these message ids have been applied (a parked one, once its gap filled)."""
        found: set[str] = set()
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                chunk = list(ids[start : start + 500])
                found.update(
                    conn.execute(select(inbox_applied.c.id).where(inbox_applied.c.id.in_(chunk)))
                    .scalars()
                    .all()
                )
        return found

    def _verify(self, item: Incoming, now: dt.datetime) -> list[_Verified]:
        """Each envelope of the message (one, or a frame's) with its verified envelope or why
        it is refused."""
        if not is_frame(item.data):
            return [(item, self._open(item, now, None))]
        try:
            frame = unpack(item.data, self.key_for)
        except EnvelopeRejected as rejected:
            return [(item, rejected)]
        if frame.problem is not None:
            log_event(
                log, logging.WARNING, "inbox.frame_unverified", peer=item.peer,
                topic=item.topic[:300], problem=frame.problem[:300],
            )  # fmt: skip
        parts = [Incoming(item.peer, item.topic, data) for data in frame.envelopes]
        return [(part, self._open(part, now, frame.covered_by)) for part in parts]

    def _open(
        self, item: Incoming, now: dt.datetime, covered_by: str | None
    ) -> Envelope | EnvelopeRejected:
        try:
            envelope = open_envelope(
                item.data,
                self.key_for,
                expected_destination=self.node_id,
                now=now,
                max_age=self.max_age,
                covered_by=covered_by,
            )
            _check_topic(item.topic, envelope)
        except EnvelopeRejected as rejected:
            return rejected
        if envelope.type not in self.appliers:
            return EnvelopeRejected(Reason.UNKNOWN_TYPE, f"{envelope.type}: not applied here")
        return envelope

    def _receive_alone(self, pair: _Verified, now: dt.datetime) -> list[Result]:
        try:
            return self._receive_batch([pair], now)
        except ApplyFailed as failed:
            if self.on_failed_transaction:
                self.on_failed_transaction()
            with self.engine.begin() as conn:
                envelope = failed.envelope
                return [
                    self._quarantine(conn, pair[0], now, "not_applicable", failed.detail, envelope)
                ]

    def _receive_batch(self, verified: Sequence[_Verified], now: dt.datetime) -> list[Result]:
        with self.engine.begin() as conn:
            envelopes = [v for _, v in verified if isinstance(v, Envelope)]
            run = Batch(conn, now, envelopes, transparency=self.transparency)
            results = []
            for item, outcome in verified:
                if isinstance(outcome, EnvelopeRejected):
                    results.append(
                        self._quarantine(conn, item, now, outcome.reason.value, outcome.detail)
                    )
                else:
                    results.append(self._one(run, item, outcome))
            run.flush()
            if run.to_ack and self.acknowledge is not None:
                self.acknowledge(conn, run.to_ack)
        return results

    def _one(self, run: Batch, item: Incoming, envelope: Envelope) -> Result:
        ordered = envelope.type not in UNORDERED_TYPES
        if envelope.id in run.applied_ids or envelope.id in run.parked_ids:
            if ordered:
                run.to_ack.append((envelope.origin, envelope.id))  # an earlier ack may be lost
            return Result(Outcome.DUPLICATE, envelope.id)
        if ordered:
            run.to_ack.append((envelope.origin, envelope.id))
            if envelope.seq > run.position(envelope.stream) + 1:
                self._park(run, item, envelope)
                run.parked_ids.add(envelope.id)
                run.parked_streams.add(envelope.stream)
                return Result(Outcome.PARKED, envelope.id)
        self._apply(run, item, envelope)
        if ordered and envelope.stream in run.parked_streams:
            self._apply_parked_after(run, envelope.stream)
        return Result(Outcome.APPLIED, envelope.id)

    def _apply(self, run: Batch, item: Incoming, envelope: Envelope) -> None:
        applier = self.appliers[envelope.type]
        if isinstance(applier, Effects):
            run.defer(applier, envelope)
        else:
            run.apply_deferred()
            try:
                applier(run.conn, envelope)
            except (ValueError, OverflowError, SQLAlchemyError) as error:
                # The effect could not be applied (a record its cache refuses, a constraint, a
                # number beyond what SQLite stores).
                raise ApplyFailed(envelope, str(error)) from error
        run.applied(item, envelope)

    # -- stream order --------------------------------------------------------------------------

    @staticmethod
    def _park(run: Batch, item: Incoming, envelope: Envelope) -> None:
        run.conn.exec_driver_sql(
            run.sql.park,
            (
                envelope.id, envelope.stream, envelope.seq, item.peer, item.topic,
                bytes(item.data), format_utc(run.now),
            ),
        )  # fmt: skip

    def _apply_parked_after(self, run: Batch, stream: str, force: bool = False) -> int:
        """Apply the parked messages of `stream` that now follow on (all, in order, with
        `force`); how many were applied."""
        applied = 0
        rows = run.conn.execute(
            select(inbox_parked).where(inbox_parked.c.stream == stream).order_by(inbox_parked.c.seq)
        ).all()
        for row in rows:
            if not force and row.seq > run.position(stream) + 1:
                break
            run.conn.execute(delete(inbox_parked).where(inbox_parked.c.id == row.id))
            item = Incoming(row.peer, row.topic, bytes(row.data))
            try:
                envelope = open_envelope(
                    item.data, self.key_for, expected_destination=self.node_id, now=run.now,
                    max_age=None,  # it was young enough when it arrived
                )  # fmt: skip
            except EnvelopeRejected as rejected:
                self._quarantine(run.conn, item, run.now, rejected.reason.value, rejected.detail)
                continue
            if run.already_applied(envelope.id):
                continue
            self._apply(run, item, envelope)
            applied += 1
        remaining = run.conn.execute(
            select(inbox_parked.c.id).where(inbox_parked.c.stream == stream).limit(1)
        ).first()
        if remaining is None:
            run.parked_streams.discard(stream)
        return applied

    def release_gaps(self, now: dt.datetime | None = None) -> int:
        """Apply, in order, what has been parked longer than `gap_timeout`; how many streams
        had a gap given up on (each logged)."""
        now = now or utcnow()
        cutoff = now - self.gap_timeout
        gaps = 0
        with self.engine.begin() as conn:
            streams = (
                conn.execute(
                    select(inbox_parked.c.stream)
                    .group_by(inbox_parked.c.stream)
                    .having(func.min(inbox_parked.c.parked_at) < cutoff)
                    .order_by(inbox_parked.c.stream)  # the order streams are locked in
                )
                .scalars()
                .all()
            )
            for stream in streams:
                run = Batch(conn, now, [], transparency=self.transparency)
                first = conn.execute(
                    select(func.min(inbox_parked.c.seq)).where(inbox_parked.c.stream == stream)
                ).scalar_one()
                log_event(
                    log, logging.WARNING, "inbox.gap_given_up", stream=stream,
                    after=run.position(stream), next=first,
                )  # fmt: skip
                self._apply_parked_after(run, stream, force=True)
                run.flush()
                gaps += 1
        return gaps

    def _quarantine(
        self,
        conn: Connection,
        item: Incoming,
        now: dt.datetime,
        reason: str,
        detail: str,
        envelope: Envelope | None = None,
    ) -> Result:
        conn.execute(
            insert(quarantine).values(
                received_at=now,
                peer=item.peer,
                topic=item.topic[:300],
                reason=reason,
                detail=detail[:2000],
                message_id=envelope.id if envelope else None,
                origin=envelope.origin if envelope else None,
                raw=bytes(item.data[:QUARANTINE_KEEP_BYTES]),
            )
        )
        log_event(
            log,
            logging.WARNING,
            "inbox.quarantined",
            peer=item.peer,
            topic=item.topic[:300],
            reason=reason,
            # The first line only: a store error's text may go on to quote the row it refused.
            detail=(detail.splitlines() or [""])[0][:300],
        )
        return Result(Outcome.QUARANTINED, envelope.id if envelope else None, reason, detail)

    def _count(self, result: Result) -> None:
        if result.outcome is Outcome.APPLIED:
            self.counters.applied += 1
        elif result.outcome is Outcome.DUPLICATE:
            self.counters.duplicates += 1
        elif result.outcome is Outcome.PARKED:
            self.counters.parked += 1
        else:
            reason = result.reason or "unknown"
            self.counters.quarantined[reason] = self.counters.quarantined.get(reason, 0) + 1


def _check_topic(topic: str, envelope: Envelope) -> None:
    """A message must arrive on the topic its envelope names: the broker's ACL vouched for the
    publisher of the topic, the signature for the origin of the envelope."""
    try:
        route = parse_topic(topic)
    except TopicError as error:
        raise EnvelopeRejected(Reason.TOPIC_MISMATCH, f"{topic!r}: {error}") from None
    if (route.origin, route.destination, route.message_type) != (
        envelope.origin, envelope.destination, envelope.type,
    ):  # fmt: skip
        raise EnvelopeRejected(
            Reason.TOPIC_MISMATCH, f"arrived on {topic}, its envelope says {Route.of(envelope)}"
        )
