"""The SIE review queue: a partner centre's records, received in its signed bundles, held until
an operator approves or rejects each one with a reason (the console's review page).

`hold` is called by the partner link inside its own transaction, with the signed envelope as
received and the record it carries. `ReviewQueue.approve` hands the held item (its envelope
bytes and where it came from) to `on_approved` in the transaction that records the approval,
so a record is applied exactly when it is approved; `reject` keeps it, rejected, with why.
Every decision is audited (`centre.audit`) in the same transaction.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, Engine, Row, insert, select, update
from sqlalchemy.exc import IntegrityError

from centre.audit import audit, checked_reason
from centre.store.schema import partner_review
from edge.logs import log_event
from edge.manifest import Manifest
from edge.timeutil import utcnow

log = logging.getLogger(__name__)


class ReviewState(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"


class ReviewError(ValueError):
    """A decision the queue cannot take (no such item, decided already), naming the item."""


@dataclass(frozen=True)
class Held:
    id: int
    partner: str
    message_id: str
    received_at: dt.datetime
    issuer: str
    ref: str
    version: int
    envelope: bytes  # the signed envelope as the partner sent it
    state: ReviewState
    decided_by: str | None = None
    reason: str | None = None
    decided_at: dt.datetime | None = None


# Runs in the approval's transaction: what approving a record does (apply it, route it).
OnApproved = Callable[[Connection, Held], None]


def _held(row: Row[tuple[object, ...]]) -> Held:
    m = row._mapping
    return Held(
        int(m["id"]), m["partner"], m["message_id"], m["received_at"], m["issuer"], m["ref"],
        int(m["version"]), bytes(m["envelope"]), ReviewState(m["state"]), m["decided_by"],
        m["reason"], m["decided_at"],
    )  # fmt: skip


def hold(
    conn: Connection,
    partner: str,
    envelope_bytes: bytes,
    record: Manifest,
    *,
    message_id: str,
) -> int:
    """Hold a partner's record for review, in the caller's transaction; the item's id. The same
    message held again (a bundle sent twice) is the item already held. `message_id` is the
    envelope's own `id` (the caller has verified the envelope)."""
    if not message_id:
        raise ReviewError(f"partner {partner}: no message id to hold the envelope under")
    existing = _id_of(conn, message_id)
    if existing is not None:
        return existing
    try:
        with conn.begin_nested():  # another instance may hold the same message meanwhile
            inserted = conn.execute(
                insert(partner_review)
                .values(
                    partner=partner, message_id=message_id, received_at=utcnow(),
                    issuer=record.issuer, ref=record.ref, version=record.version,
                    envelope=bytes(envelope_bytes), state=ReviewState.PENDING.value,
                )
                .returning(partner_review.c.id)
            ).scalar_one()  # fmt: skip
    except IntegrityError:
        found = _id_of(conn, message_id)
        if found is None:
            raise
        return found
    log_event(log, logging.INFO, "review.held", partner=partner, item=inserted,
              issuer=record.issuer, ref=record.ref)  # fmt: skip
    return int(inserted)


def _id_of(conn: Connection, message_id: str) -> int | None:
    found = conn.execute(
        select(partner_review.c.id).where(partner_review.c.message_id == message_id)
    ).scalar()
    return None if found is None else int(found)


class ReviewQueue:
    def __init__(self, engine: Engine, on_approved: OnApproved | None = None) -> None:
        self.engine = engine
        self.on_approved = on_approved

    def pending(self, limit: int = 500) -> list[Held]:
        """The items waiting for a decision, oldest first."""
        query = (
            select(partner_review)
            .where(partner_review.c.state == ReviewState.PENDING.value)
            .order_by(partner_review.c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_held(row) for row in conn.execute(query)]

    def decided(self, limit: int = 50) -> list[Held]:
        """The latest decisions, newest first."""
        query = (
            select(partner_review)
            .where(partner_review.c.state != ReviewState.PENDING.value)
            .order_by(partner_review.c.decided_at.desc(), partner_review.c.id.desc())
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [_held(row) for row in conn.execute(query)]

    def get(self, item_id: int) -> Held | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(partner_review).where(partner_review.c.id == item_id)).first()
        return None if row is None else _held(row)

    def approve(
        self, item_id: int, operator: str, reason: str, on_approved: OnApproved | None = None
    ) -> Held:
        """Approve a pending item; the item as approved (`.envelope` is the signed envelope).
        `on_approved` (or the queue's) runs in the same transaction: if it raises, nothing of
        the approval stays."""
        callback = on_approved or self.on_approved
        return self._decide(item_id, operator, reason, ReviewState.APPROVED, callback)

    def reject(self, item_id: int, operator: str, reason: str) -> Held:
        return self._decide(item_id, operator, reason, ReviewState.REJECTED, None)

    def _decide(
        self,
        item_id: int,
        operator: str,
        reason: str,
        state: ReviewState,
        callback: OnApproved | None,
    ) -> Held:
        why = checked_reason(reason)
        now = utcnow()
        with self.engine.begin() as conn:
            # FOR UPDATE: two operators deciding one item at once decide it once (PostgreSQL;
            # SQLite has one writer anyway).
            row = conn.execute(
                select(partner_review).where(partner_review.c.id == item_id).with_for_update()
            ).first()
            if row is None:
                raise ReviewError(f"review {item_id}: no such item")
            current = _held(row)
            if current.state is not ReviewState.PENDING:
                raise ReviewError(
                    f"review {item_id}: already {current.state.value} by {current.decided_by}"
                )
            conn.execute(
                update(partner_review)
                .where(partner_review.c.id == item_id)
                .values(state=state.value, decided_by=operator, reason=why, decided_at=now)
            )
            decided = Held(
                current.id, current.partner, current.message_id, current.received_at,
                current.issuer, current.ref, current.version, current.envelope, state,
                operator, why, now,
            )  # fmt: skip
            if callback is not None:
                callback(conn, decided)
            outcome = f"{state.value}: {current.issuer}/{current.ref} v{current.version}"
            action = "review.approve" if state is ReviewState.APPROVED else "review.reject"
            audit(conn, operator, action, f"review:{item_id}", why, outcome)
        log_event(log, logging.INFO, f"review.{state.value}", item=item_id, operator=operator)
        return decided
