"""The status corner and page (device health, sync), and the shift report."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from edge.officers import Role
from edge.readings import Health
from edge.timeutil import utcnow
from ui_kiosk.transparency import ALERT_KINDS
from ui_kiosk.web import DECIDERS, Actor, QuietWho, Who, kiosk_of, render, require

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(*DECIDERS))]


async def _status(request: Request) -> dict[str, object]:
    backend = kiosk_of(request).backend
    devices = await backend.device_health()
    sync = await backend.sync_status()
    troubled = [d for d in devices if d.health is not Health.CONNECTED]
    offline = [p for p in sync.peers if not p.connected]
    return {"devices": devices, "sync": sync, "troubled": troubled, "offline": offline}


@router.get("/corner", response_class=HTMLResponse)
async def corner(request: Request, who: QuietWho) -> Response:
    return render(request, "_corner.html", await _status(request), who=who)


@router.get("/status", response_class=HTMLResponse)
async def status_page(request: Request, who: Who) -> Response:
    technician = who.officer.role is Role.TECHNICIAN
    context = await _status(request) | {"details": technician, "fleet": None, "tlog": None}
    if technician:
        context["fleet"] = await kiosk_of(request).backend.fleet_status()
        context["tlog"] = await kiosk_of(request).backend.transparency()
        context["tlog_kinds"] = ALERT_KINDS
    return render(request, "status.html", context, who=who)


@router.get("/report", response_class=HTMLResponse)
async def report_page(
    request: Request,
    who: Viewer,
    hours: Annotated[float | None, Query(gt=0, le=7 * 24)] = None,
) -> Response:
    kiosk = kiosk_of(request)
    span = hours or kiosk.settings.shift_hours
    until = utcnow()
    report = await kiosk.backend.shift_report(until - dt.timedelta(hours=span), until)
    return render(request, "report.html", {"report": report, "hours": span}, who=who)
