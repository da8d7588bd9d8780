"""An inspection result reaches the centre: its `inspection_result` message is written to the
outbox in the result's own transaction (the kiosk's hook), addressed to the box's centre
(`[fleet] report_to`), which counts it against the profiles that selected the truck, and the
result is marked queued. One the outbox could not take then (no route to the centre) stays
unqueued and goes with the next result, or when the kiosk starts. The officer's note travels
in the signed message; it is never logged."""

from __future__ import annotations

import logging

from sqlalchemy import Connection, Engine, select, update

from edge.decisions import Decision, DecisionKind
from edge.logs import log_event
from edge.risk_profiles.inspection import InspectionResult, results_for
from edge.store.schema import decisions, inspection_results
from edge.timeutil import utcnow
from sync.messages import ArrivalRef, InspectionResultMessage, ProfileRef
from sync.outbox import NoRouteError, Outbox

log = logging.getLogger(__name__)

BATCH = 100  # unqueued results sent with a new one


def inspection_message(
    result: InspectionResult, decision: DecisionKind | None, node_id: str
) -> InspectionResultMessage:
    selection = result.selection
    return InspectionResultMessage(
        arrival=ArrivalRef(node=node_id, arrival_id=result.arrival_id),
        result_id=result.id,
        decision=decision if decision is not None and decision.is_final else None,
        outcome=result.outcome.value,
        findings=result.findings,
        note=result.note,
        officer=result.officer_id,
        lane=selection.lane,
        set_version=selection.set_version,
        profiles=tuple(ProfileRef(name=n, version=v) for n, v in selection.profiles),
        random=selection.random,
        recorded_at=result.recorded_at,
    )


class InspectionDispatch:
    """The kiosk's inspection hook: results' messages to the centre, in their transaction."""

    def __init__(self, outbox: Outbox, node_id: str, centre: str) -> None:
        self.outbox = outbox
        self.node_id = node_id
        self.centre = centre

    def hook(self, conn: Connection, result: InspectionResult, decision: Decision) -> None:
        del result, decision  # it is among the unqueued, with any the outbox refused before
        self.send_unqueued(conn)

    def send_unqueued(self, conn: Connection) -> int:
        """Queue the results not queued yet (oldest first, a batch); how many."""
        if not self.centre:
            log_event(log, logging.WARNING, "inspection.no_centre")
            return 0
        rows = conn.execute(
            select(inspection_results.c.arrival_id, inspection_results.c.id,
                   decisions.c.kind)
            .outerjoin(decisions, decisions.c.id == inspection_results.c.decision_id)
            .where(inspection_results.c.queued_at.is_(None))
            .order_by(inspection_results.c.id)
            .limit(BATCH)
        ).all()  # fmt: skip
        if not rows:
            return 0
        wanted = {row.id: row for row in rows}
        results = [
            r for arrival in dict.fromkeys(row.arrival_id for row in rows)
            for r in results_for(conn, arrival) if r.id in wanted
        ]  # fmt: skip
        messages = [
            (inspection_message(r, _kind(wanted[r.id].kind), self.node_id), self.centre, None)
            for r in results
        ]
        try:
            with conn.begin_nested():
                self.outbox.send_many(messages, conn)
        except NoRouteError:  # kept on the box; sent with the next result, or at next start
            log_event(log, logging.WARNING, "inspection.no_route", results=len(messages),
                      to=self.centre)  # fmt: skip
            return 0
        conn.execute(
            update(inspection_results)
            .where(inspection_results.c.id.in_(list(wanted)))
            .values(queued_at=utcnow())
        )
        log_event(log, logging.INFO, "inspection.queued", results=len(messages))
        return len(messages)

    def send_unqueued_now(self, engine: Engine) -> int:
        """At the kiosk's start: what the outbox refused before, in batches."""
        total = 0
        while True:
            with engine.begin() as conn:
                sent = self.send_unqueued(conn)
            total += sent
            if sent < BATCH:
                return total


def _kind(value: str | None) -> DecisionKind | None:
    return DecisionKind(value) if value is not None else None
