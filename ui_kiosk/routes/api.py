"""The JSON API under /api, described by /openapi.json. Same session cookie as the pages;
requests that change something carry the session's CSRF token in the X-CSRF-Token header."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Body, Depends, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from edge.timeutil import utcnow
from ui_kiosk.backend import ErrorCode, KioskError
from ui_kiosk.models import (
    ArrivalDetail,
    DecisionIn,
    DecisionView,
    DeviceHealthView,
    InspectionIn,
    InspectionView,
    OfficerView,
    QueueEntry,
    ReopenIn,
    ScanOutcome,
    SearchHit,
    ShiftReport,
    SyncStatusView,
)
from ui_kiosk.record_search import MAX_QUERY_CHARS
from ui_kiosk.scans import MAX_SCAN_CHARS
from ui_kiosk.translit import name_latin
from ui_kiosk.web import DECIDERS, Actor, ArrivalId, Decider, Supervisor, Who, kiosk_of, require


class ErrorOut(BaseModel):
    error: str  # not_logged_in, csrf, not_allowed, needs_supervisor, not_found, ...
    detail: str


class ScanIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=MAX_SCAN_CHARS)]


class StatusOut(BaseModel):
    devices: list[DeviceHealthView]
    sync: SyncStatusView


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": ErrorOut, "description": "no live session"},
    403: {"model": ErrorOut, "description": "no CSRF token, or the role may not"},
    404: {"model": ErrorOut, "description": "no such truck"},
    409: {"model": ErrorOut, "description": "the truck does not await this"},
    422: {"model": ErrorOut, "description": "the input does not fit"},
}

router = APIRouter(prefix="/api", tags=["kiosk"], responses=ERRORS)
Viewer = Annotated[Actor, Depends(require(*DECIDERS))]


@router.get("/me", response_model=OfficerView)
async def me(who: Who) -> OfficerView:
    o = who.officer
    return OfficerView(
        id=o.id, name=o.name, name_latin=name_latin(o.name), role=o.role, language=o.language
    )


@router.get("/queue", response_model=list[QueueEntry])
async def queue(request: Request, who: Viewer) -> list[QueueEntry]:
    return await kiosk_of(request).backend.queue()


@router.get("/arrivals/{arrival_id}", response_model=ArrivalDetail)
async def arrival(request: Request, arrival_id: ArrivalId, who: Viewer) -> ArrivalDetail:
    detail = await kiosk_of(request).backend.arrival(arrival_id)
    if detail is None:
        raise KioskError(ErrorCode.NOT_FOUND, f"no arrival {arrival_id}")
    return detail


@router.post("/arrivals/{arrival_id}/decision", response_model=DecisionView, status_code=201)
async def decide(
    request: Request, arrival_id: ArrivalId, who: Decider, decision: Annotated[DecisionIn, Body()]
) -> DecisionView:
    return await kiosk_of(request).backend.decide(who.officer, arrival_id, decision)


@router.post("/arrivals/{arrival_id}/inspection", response_model=InspectionView, status_code=201)
async def inspection(
    request: Request, arrival_id: ArrivalId, who: Decider, result: Annotated[InspectionIn, Body()]
) -> InspectionView:
    """What the documentary check or inspection the truck was sent to found."""
    return await kiosk_of(request).backend.record_inspection(who.officer, arrival_id, result)


@router.post("/arrivals/{arrival_id}/reopen", response_model=DecisionView, status_code=201)
async def reopen(
    request: Request, arrival_id: ArrivalId, who: Supervisor, reopen: Annotated[ReopenIn, Body()]
) -> DecisionView:
    return await kiosk_of(request).backend.reopen(who.officer, arrival_id, reopen)


@router.post("/arrivals/{arrival_id}/scans", response_model=ScanOutcome, status_code=201)
async def scan(
    request: Request, arrival_id: ArrivalId, who: Decider, scan: Annotated[ScanIn, Body()]
) -> ScanOutcome:
    return await kiosk_of(request).backend.scan(who.officer, arrival_id, scan.text)


@router.get("/search", response_model=list[SearchHit])
async def search(
    request: Request,
    who: Viewer,
    q: Annotated[str, Query(min_length=1, max_length=MAX_QUERY_CHARS)],
) -> list[SearchHit]:
    return await kiosk_of(request).backend.search(q)


@router.get("/status", response_model=StatusOut)
async def status(request: Request, who: Who) -> StatusOut:
    backend = kiosk_of(request).backend
    return StatusOut(devices=await backend.device_health(), sync=await backend.sync_status())


@router.get("/report", response_model=ShiftReport)
async def report(
    request: Request,
    who: Viewer,
    hours: Annotated[float | None, Query(gt=0, le=7 * 24)] = None,
) -> ShiftReport:
    kiosk = kiosk_of(request)
    until = utcnow()
    span = dt.timedelta(hours=hours or kiosk.settings.shift_hours)
    return await kiosk.backend.shift_report(until - span, until)


openapi_router = APIRouter(include_in_schema=False)


@openapi_router.get("/openapi.json")
async def openapi(request: Request, who: Who) -> JSONResponse:
    return JSONResponse(request.app.openapi())
