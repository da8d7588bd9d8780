"""What the outbox and the quarantine hold, for the kiosk's corner: read from the store."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine, func, select

from edge.store.schema import outbox, quarantine

WAITING = ("pending", "inflight")  # not yet taken by a broker
UNCONFIRMED = ("acked",)  # taken by a broker, not yet acknowledged by the receiver


@dataclass(frozen=True)
class OutboxCounts:
    waiting: int
    unconfirmed: int
    oldest_waiting_at: dt.datetime | None
    quarantined: int


def outbox_counts(engine: Engine) -> OutboxCounts:
    with engine.connect() as conn:
        rows: dict[str, int] = dict(
            conn.execute(
                select(outbox.c.state, func.count())
                .where(outbox.c.state.in_(WAITING + UNCONFIRMED))
                .group_by(outbox.c.state)
            ).all()
        )
        oldest = conn.execute(
            select(func.min(outbox.c.created_at)).where(outbox.c.state.in_(WAITING))
        ).scalar()
        quarantined = conn.execute(select(func.count()).select_from(quarantine)).scalar()
    return OutboxCounts(
        waiting=sum(rows.get(s, 0) for s in WAITING),
        unconfirmed=sum(rows.get(s, 0) for s in UNCONFIRMED),
        oldest_waiting_at=oldest,
        quarantined=int(quarantined or 0),
    )
