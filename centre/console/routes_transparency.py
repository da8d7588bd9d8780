"""The transparency log's pages: the centre's log, the logs it witnessed and the alerts, one
alert with its evidence, and that evidence as stored (a download). For the roles that read:
operators, viewers and auditors (no personal data is in the log's tables); not the fleet's."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from centre.console.operators import Role
from centre.console.transparency import (
    ALERT_KINDS,
    alert_detail,
    alerts,
    evidence_of,
    own_log,
    witnessed_logs,
)
from centre.console.web import Actor, NotAllowedError, actor, console_of, render
from edge.store.schema import MAX_STORED_INT

router = APIRouter()
TLOG_READERS = frozenset({Role.OPERATOR, Role.VIEWER, Role.AUDITOR})
AlertId = Annotated[int, PathParam(ge=1, le=MAX_STORED_INT)]


def tlog_reader(who: Annotated[Actor, Depends(actor)]) -> Actor:
    if who.operator.role not in TLOG_READERS:
        raise NotAllowedError
    return who


TlogReader = Annotated[Actor, Depends(tlog_reader)]


@router.get("/transparency", response_class=HTMLResponse)
def transparency_page(
    request: Request,
    who: TlogReader,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    after: Annotated[str, Query(max_length=64)] = "",
) -> Response:
    engine = console_of(request).engine
    context = {
        "own": own_log(engine),
        "centre_id": console_of(request).centre_id,
        "witnessed": witnessed_logs(engine, after),
        "after": after,
        "alerts": alerts(engine, page),
        "alert_kinds": ALERT_KINDS,
    }
    return render(request, "transparency.html", context, who=who)


@router.get("/transparency/alerts/{alert_id}", response_class=HTMLResponse)
def alert_page(request: Request, who: TlogReader, alert_id: AlertId) -> Response:
    detail = alert_detail(console_of(request).engine, alert_id)
    context = {"found": detail, "alert_id": alert_id, "alert_kinds": ALERT_KINDS}
    status = 200 if detail is not None else 404
    return render(request, "transparency_alert.html", context, who=who, status_code=status)


@router.get("/transparency/alerts/{alert_id}/evidence.json")
def alert_evidence(request: Request, who: TlogReader, alert_id: AlertId) -> Response:
    evidence = evidence_of(console_of(request).engine, alert_id)
    if evidence is None:
        return Response("no such alert\n", status_code=404, media_type="text/plain")
    return Response(
        evidence,
        media_type="application/json",
        headers={"content-disposition": f'attachment; filename="tlog-alert-{alert_id}.json"'},
    )
