"""`edge.sync_status.SyncStatusSource` over this box's outbox and quarantine: what the kiosk's
status corner and page show, from the sync room's own queries."""

from __future__ import annotations

from sqlalchemy import func, select

from edge.store.schema import quarantine
from edge.sync_status import StuckMessage, SyncSnapshot
from sync.outbox import Outbox

STUCK_SHOWN = 20  # the kiosk lists the first of them; `sync status` shows more


class OutboxStatus:
    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox

    def snapshot(self) -> SyncSnapshot:
        queues = self.outbox.status()
        with self.outbox.engine.connect() as conn:
            quarantined = conn.execute(select(func.count()).select_from(quarantine)).scalar()
        return SyncSnapshot(
            waiting=sum(q.depth for q in queues),
            unconfirmed=sum(q.awaiting_receiver for q in queues),
            refused=sum(q.refused for q in queues),
            oldest_waiting_at=self.outbox.oldest_waiting_at(),
            quarantined=int(quarantined or 0),
            stuck=tuple(
                StuckMessage(
                    m.id,
                    m.peer,
                    m.type,
                    m.destination,
                    m.created_at,
                    m.refusals,
                    m.reason,
                    m.retry_at if m.state == "refused" else None,
                )
                for m in self.outbox.stuck(STUCK_SHOWN)
            ),
        )
