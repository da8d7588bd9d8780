"""An inspection result reaches the centre: its `inspection_result` message is written to the
outbox in the result's own transaction (the kiosk's hook), addressed to the box's centre
(`[fleet] report_to`), which counts it against the profiles that selected the truck. The
officer's note travels in the signed message; it is never logged."""

from __future__ import annotations

import logging

from sqlalchemy import Connection

from edge.decisions import Decision
from edge.logs import log_event
from edge.risk_profiles.inspection import InspectionResult
from sync.messages import ArrivalRef, InspectionResultMessage, ProfileRef
from sync.outbox import NoRouteError, Outbox

log = logging.getLogger(__name__)


def inspection_message(
    result: InspectionResult, decision: Decision, node_id: str
) -> InspectionResultMessage:
    selection = result.selection
    return InspectionResultMessage(
        arrival=ArrivalRef(node=node_id, arrival_id=result.arrival_id),
        result_id=result.id,
        decision=decision.kind if decision.kind.is_final else None,
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
    """The kiosk's inspection hook: the result's message to the centre, in its transaction."""

    def __init__(self, outbox: Outbox, node_id: str, centre: str) -> None:
        self.outbox = outbox
        self.node_id = node_id
        self.centre = centre

    def hook(self, conn: Connection, result: InspectionResult, decision: Decision) -> None:
        if not self.centre:
            log_event(log, logging.WARNING, "inspection.no_centre", result=result.id)
            return
        message = inspection_message(result, decision, self.node_id)
        try:
            with conn.begin_nested():
                self.outbox.send_many([(message, self.centre, None)], conn)
        except NoRouteError:  # kept on the box, where the shift report and the kiosk show it
            log_event(log, logging.WARNING, "inspection.no_route", result=result.id,
                      to=self.centre)  # fmt: skip
            return
        log_event(log, logging.INFO, "inspection.queued", result=result.id,
                  arrival=result.arrival_id)  # fmt: skip
