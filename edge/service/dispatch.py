"""Every final decision reaches the outbox exactly once.

Its messages are written in the decision's own transaction (`hook`, run by
`edge.decisions.Decisions`) together with its `decisions_queued` row. A decision left without
that row (the outbox refused it: the hook raised and was rolled back to its savepoint, the
decision kept) is sent by `send_unqueued` when the service starts, before the kiosk takes new
decisions; the row, written in the same transaction as the messages, makes sending one twice
impossible.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlalchemy import Connection, Engine

from edge import faults
from edge.config import SyncConfig
from edge.decisions import Decision, DecisionStore
from edge.logs import log_event
from edge.manifest_cache import ManifestCache
from edge.service.outgoing import messages_for
from sync.outbox import Outbox

log = logging.getLogger(__name__)

BATCH = 200  # decisions to a transaction at start


@dataclass(frozen=True)
class Reconciled:
    queued: int  # decisions whose messages went to the outbox now
    failed: int  # decisions the outbox still refuses (logged; tried again at the next start)


class DecisionDispatch:
    def __init__(
        self,
        engine: Engine,
        cache: ManifestCache,
        node_id: str,
        config: SyncConfig,
        outbox: Outbox,
    ) -> None:
        self.store = DecisionStore(engine)
        self.cache = cache
        self.node_id = node_id
        self.config = config
        self.outbox = outbox

    def hook(self, conn: Connection, decision: Decision) -> None:
        """Inside the decision's transaction: queue it (a reopening sends nothing)."""
        if decision.kind.is_final:
            self.queue(conn, decision)

    def queue(self, conn: Connection, decision: Decision) -> int:
        """Put `decision`'s messages in the outbox on `conn` and mark it queued; how many."""
        faults.reached("decision.queue")
        items = messages_for(decision, self.node_id, self.config, self.cache)
        ids = self.outbox.send_many(items, conn) if items else []
        self.store.mark_queued(conn, decision.id, len(ids))
        return len(ids)

    def send_unqueued(self) -> Reconciled:
        """On the store thread: queue every final decision that has no messages in the outbox,
        in batches (`send_unqueued_batch`); all at once, for callers that own the thread."""
        queued = failed = 0
        after: int | None = 0
        while after is not None:
            done, after = self.send_unqueued_batch(after)
            queued, failed = queued + done.queued, failed + done.failed
        return Reconciled(queued, failed)

    def send_unqueued_batch(self, after: int) -> tuple[Reconciled, int | None]:
        """On the store thread: queue the next batch of final decisions (ids above `after`)
        that have no messages in the outbox, each in a savepoint of the batch's transaction (one
        the outbox refuses is logged and stays unqueued, for the next try); what was done and
        the id to go on after, None when none were left. One store job a batch, so that the
        store thread serves other work between two."""
        batch = self.store.unqueued(after, BATCH)
        if not batch:
            return Reconciled(0, 0), None
        queued = failed = 0
        with self.store.engine.begin() as conn:
            for decision in batch:
                try:
                    with conn.begin_nested():
                        self.queue(conn, decision)
                except Exception as error:
                    failed += 1
                    log_event(
                        log, logging.ERROR, "decision.unsendable", decision=decision.id,
                        error=type(error).__name__,
                    )  # fmt: skip
                else:
                    queued += 1
        return Reconciled(queued, failed), batch[-1].id
