"""The audit of operators' actions: who did what, to which item, why, when, and what came of
it, written in the transaction of the action itself (an action is never done unaudited).

The reason is what the operator typed: it lives here and in the database only, never in a log
line (it may name a driver or a company)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, insert, select

from centre.store.schema import console_audit
from edge.timeutil import utcnow

MAX_REASON_CHARS = 1000


class ReasonError(ValueError):
    """A reason the action cannot take, with the fix."""


def checked_reason(reason: str) -> str:
    """The reason, stripped; refused when empty or too long (actions that must say why)."""
    text = reason.strip()
    if not text:
        raise ReasonError("reason: empty; say why (it is kept in the audit)")
    if len(text) > MAX_REASON_CHARS:
        raise ReasonError(f"reason: {len(text)} characters; at most {MAX_REASON_CHARS}")
    return text


@dataclass(frozen=True)
class AuditEntry:
    id: int
    at: dt.datetime
    operator: str
    action: str
    item: str
    reason: str
    outcome: str


def audit(
    conn: Connection, operator: str, action: str, item: str, reason: str, outcome: str
) -> None:
    conn.execute(
        insert(console_audit).values(
            at=utcnow(), operator=operator, action=action[:32], item=item[:200], reason=reason,
            outcome=outcome[:300],
        )
    )  # fmt: skip


def audit_entries(engine: Engine, item: str | None = None, limit: int = 200) -> list[AuditEntry]:
    """The latest entries first (of one item, when given)."""
    query = select(console_audit).order_by(console_audit.c.id.desc()).limit(limit)
    if item is not None:
        query = query.where(console_audit.c.item == item)
    with engine.connect() as conn:
        return [
            AuditEntry(r.id, r.at, r.operator, r.action, r.item, r.reason, r.outcome)
            for r in conn.execute(query)
        ]
