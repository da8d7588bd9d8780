"""The inbox: every message received is verified, applied exactly once, or quarantined.

A batch of received messages is handled in one transaction. Each message is checked (size,
signature by a trusted origin, destination, age, schema, and that its topic agrees with its
envelope), then, unless its id was applied before, applied and recorded as applied in a
savepoint of that transaction: the effect and the dedupe entry commit together or not at all.
What fails is kept in quarantine with its reason and has no effect. Only after the commit does
the transport acknowledge the messages to the broker, so a crash before it loses nothing: the
broker delivers them again, and the dedupe table drops those already applied.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.exc import SQLAlchemyError

from edge.logs import log_event
from edge.store.schema import inbox_applied, quarantine
from edge.timeutil import utcnow
from sync.envelope import Envelope, EnvelopeRejected, KeyLookup, Reason, open_envelope
from sync.messages import Priority
from sync.topics import Route, TopicError, parse_topic

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
    QUARANTINED = "quarantined"  # refused: kept for review, acknowledged, no effect


@dataclass(frozen=True)
class Incoming:
    peer: str
    topic: str
    data: bytes


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    message_id: str | None = None
    reason: str | None = None  # a stable code, for quarantined messages
    detail: str | None = None


@dataclass
class InboxCounters:
    applied: int = 0
    duplicates: int = 0
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
    ) -> None:
        self.engine = engine
        self.node_id = node_id
        self.key_for = key_for
        self.appliers = dict(appliers)
        self.max_age = dict(max_age)
        self.on_failed_transaction = on_failed_transaction
        self.counters = InboxCounters()

    def receive(self, batch: Sequence[Incoming]) -> list[Result]:
        """Handle a batch in one transaction; one result per message, in order. Raises only
        when the database itself fails (then nothing of the batch took effect)."""
        now = utcnow()
        results: list[Result] = []
        try:
            with self.engine.begin() as conn:
                seen: set[str] = set()
                for item in batch:
                    results.append(self._one(conn, item, now, seen))
        except SQLAlchemyError:
            if self.on_failed_transaction:
                self.on_failed_transaction()
            raise
        for result in results:
            self._count(result)
        return results

    def _one(self, conn: Connection, item: Incoming, now: dt.datetime, seen: set[str]) -> Result:
        try:
            envelope = open_envelope(
                item.data,
                self.key_for,
                expected_destination=self.node_id,
                now=now,
                max_age=self.max_age,
            )
            _check_topic(item.topic, envelope)
        except EnvelopeRejected as rejected:
            return self._quarantine(conn, item, now, rejected.reason.value, rejected.detail)
        if envelope.id in seen or self._applied_before(conn, envelope.id):
            return Result(Outcome.DUPLICATE, envelope.id)
        applier = self.appliers.get(envelope.type)
        if applier is None:
            return self._quarantine(
                conn, item, now, "unknown_type", f"{envelope.type}: not applied here", envelope
            )
        savepoint = conn.begin_nested()
        try:
            applier(conn, envelope)
            conn.execute(
                insert(inbox_applied).values(
                    id=envelope.id,
                    origin=envelope.origin,
                    type=envelope.type,
                    stream=envelope.stream,
                    seq=envelope.seq,
                    peer=item.peer,
                    applied_at=now,
                )
            )
            savepoint.commit()
        except (ValueError, SQLAlchemyError) as error:
            # The effect could not be applied (a record its cache refuses, a constraint): none
            # of it stays, and the message is kept for review rather than retried forever.
            savepoint.rollback()
            if self.on_failed_transaction:
                self.on_failed_transaction()
            return self._quarantine(conn, item, now, "not_applicable", str(error), envelope)
        seen.add(envelope.id)
        return Result(Outcome.APPLIED, envelope.id)

    @staticmethod
    def _applied_before(conn: Connection, message_id: str) -> bool:
        found = conn.execute(select(inbox_applied.c.id).where(inbox_applied.c.id == message_id))
        return found.first() is not None

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
            detail=detail[:300],
        )
        return Result(Outcome.QUARANTINED, envelope.id if envelope else None, reason, detail)

    def _count(self, result: Result) -> None:
        if result.outcome is Outcome.APPLIED:
            self.counters.applied += 1
        elif result.outcome is Outcome.DUPLICATE:
            self.counters.duplicates += 1
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
    if route != Route.of(envelope):
        raise EnvelopeRejected(
            Reason.TOPIC_MISMATCH, f"arrived on {topic}, its envelope says {Route.of(envelope)}"
        )
