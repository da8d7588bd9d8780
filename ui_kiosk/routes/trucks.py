"""The queue of trucks, a truck's page, and what the officer does to a truck: scan into it,
attach a record by hand, decide, and (a supervisor) reopen."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from edge.decisions import (
    FINAL_KINDS,
    MAX_NOTE_CHARS,
    REASONS,
    DecisionKind,
    ReasonCode,
    needs_override,
)
from edge.officers import Role
from edge.risk import RiskLane
from edge.risk_profiles.inspection import MAX_NOTE_CHARS as INSPECTION_NOTE_CHARS
from edge.risk_profiles.inspection import Finding
from ui_kiosk.backend import ErrorCode, KioskError
from ui_kiosk.models import DecisionIn, InspectionIn, ReopenIn
from ui_kiosk.record_search import MAX_QUERY_CHARS
from ui_kiosk.scans import MAX_SCAN_CHARS
from ui_kiosk.web import (
    DECIDERS,
    MAX_ROW_ID,
    Actor,
    ArrivalId,
    Decider,
    QuietWho,
    Supervisor,
    Who,
    kiosk_of,
    render,
    require,
)

router = APIRouter(include_in_schema=False)
Viewer = Annotated[Actor, Depends(require(*DECIDERS))]
DONE = ("decided", "reopened", "attached", "opened", "language", "inspected")
# The page's decision rules (`kind_rules` below) as the page shows them now, sent by kiosk.js
# with every live refresh and scan: the choices are sent again only when they changed.
RULES_HEADER = "X-Decision-Rules"


def _done(done: str | None) -> str | None:
    return done if done in DONE else None


@router.get("/")
async def home(who: Who) -> Response:
    target = "/status" if who.officer.role is Role.TECHNICIAN else "/queue"
    return RedirectResponse(target, status_code=303)


@router.get("/queue", response_class=HTMLResponse)
async def queue_page(request: Request, who: Viewer, done: str | None = None) -> Response:
    backend = kiosk_of(request).backend
    context = {
        "entries": await backend.queue(),
        "lanes": await backend.lane_names(),
        "done": _done(done),
    }
    return render(request, "queue.html", context, who=who)


@router.get("/queue/rows", response_class=HTMLResponse)
async def queue_rows(request: Request, who: QuietWho) -> Response:
    if who.officer.role not in DECIDERS:
        raise KioskError(ErrorCode.NOT_ALLOWED, "technicians do not see the queue")
    entries = await kiosk_of(request).backend.queue()
    return render(request, "_queue_rows.html", {"entries": entries}, who=who)


def kind_states(lane: RiskLane, role: Role) -> dict[DecisionKind, str]:
    """Each final decision as this officer may take it on this lane: open, an override (a
    supervisor going below the lane's minimum) or barred (the same, for an officer)."""
    states = {}
    for kind in FINAL_KINDS:
        if not needs_override(kind, lane):
            states[kind] = "open"
        else:
            states[kind] = "override" if role is Role.SUPERVISOR else "barred"
    return states


def kind_rules(states: dict[DecisionKind, str]) -> str:
    return " ".join(f"{kind.value}:{state}" for kind, state in states.items())


async def _truck_context(request: Request, arrival_id: int, who: Actor) -> dict[str, object]:
    detail = await kiosk_of(request).backend.arrival(arrival_id)
    if detail is None:
        raise KioskError(ErrorCode.NOT_FOUND, f"no arrival {arrival_id}")
    states = kind_states(detail.entry.risk.lane, who.officer.role)
    rules = kind_rules(states)
    return {
        "d": detail,
        "reasons": REASONS,
        "kinds": list(states),
        "kind_states": states,
        "kind_rules": rules,
        # Out of band only when the page's choices differ from these: a live refresh never
        # redraws (and so never resets) the radios the officer is working with.
        "send_kinds": detail.awaiting_decision and request.headers.get(RULES_HEADER) != rules,
    }


@router.get("/arrivals/{arrival_id}", response_class=HTMLResponse)
async def truck_page(
    request: Request, arrival_id: ArrivalId, who: Viewer, done: str | None = None
) -> Response:
    context = await _truck_context(request, arrival_id, who)
    context |= {"done": _done(done), "scanned": None, "oob": False}
    return render(request, "arrival.html", context, who=who)


@router.get("/arrivals/{arrival_id}/live", response_class=HTMLResponse)
async def truck_live(request: Request, arrival_id: ArrivalId, who: QuietWho) -> Response:
    if who.officer.role not in DECIDERS:
        raise KioskError(ErrorCode.NOT_ALLOWED, "technicians do not see trucks")
    context = await _truck_context(request, arrival_id, who) | {"oob": True}
    return render(request, "_live_response.html", context, who=who)


@router.post("/arrivals/open")
async def open_truck(
    request: Request, who: Decider, lane: Annotated[str, Form(max_length=32)]
) -> Response:
    arrival_id = await kiosk_of(request).backend.open_arrival(who.officer, lane)
    return RedirectResponse(f"/arrivals/{arrival_id}?done=opened", status_code=303)


@router.post("/arrivals/{arrival_id}/scan")
async def scan(
    request: Request,
    arrival_id: ArrivalId,
    who: Decider,
    scan: Annotated[str, Form(max_length=MAX_SCAN_CHARS)],
) -> Response:
    outcome = await kiosk_of(request).backend.scan(who.officer, arrival_id, scan)
    if not request.headers.get("HX-Request"):
        return RedirectResponse(f"/arrivals/{arrival_id}", status_code=303)
    context = await _truck_context(request, arrival_id, who) | {"scanned": outcome, "oob": True}
    return render(request, "_scan_response.html", context, who=who)


@router.post("/arrivals/{arrival_id}/attach")
async def attach(
    request: Request,
    arrival_id: ArrivalId,
    who: Decider,
    issuer: Annotated[str, Form(max_length=64)],
    ref: Annotated[str, Form(max_length=35)],
) -> Response:
    await kiosk_of(request).backend.attach_record(who.officer, arrival_id, issuer, ref)
    return RedirectResponse(f"/arrivals/{arrival_id}?done=attached", status_code=303)


@router.post("/arrivals/{arrival_id}/decide")
async def decide(
    request: Request,
    arrival_id: ArrivalId,
    who: Decider,
    kind: Annotated[DecisionKind, Form()],
    reason: Annotated[ReasonCode, Form()],
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
) -> Response:
    decision = DecisionIn(kind=kind, reason=reason, note=note or None)
    await kiosk_of(request).backend.decide(who.officer, arrival_id, decision)
    return RedirectResponse("/queue?done=decided", status_code=303)


@router.post("/arrivals/{arrival_id}/inspection")
async def inspection(
    request: Request,
    arrival_id: ArrivalId,
    who: Decider,
    findings: Annotated[list[Finding], Form(max_length=len(Finding))] = [],  # noqa: B006
    note: Annotated[str, Form(max_length=INSPECTION_NOTE_CHARS)] = "",
) -> Response:
    result = InspectionIn(findings=findings, note=note.strip() or None)
    await kiosk_of(request).backend.record_inspection(who.officer, arrival_id, result)
    return RedirectResponse(f"/arrivals/{arrival_id}?done=inspected", status_code=303)


@router.post("/arrivals/{arrival_id}/reopen")
async def reopen(
    request: Request,
    arrival_id: ArrivalId,
    who: Supervisor,
    reason: Annotated[ReasonCode, Form()],
    note: Annotated[str, Form(max_length=MAX_NOTE_CHARS)] = "",
) -> Response:
    await kiosk_of(request).backend.reopen(
        who.officer, arrival_id, ReopenIn(reason=reason, note=note or None)
    )
    return RedirectResponse(f"/arrivals/{arrival_id}?done=reopened", status_code=303)


@router.get("/search", response_class=HTMLResponse)
async def search_page(
    request: Request,
    who: Viewer,
    q: Annotated[str, Query(max_length=MAX_QUERY_CHARS)] = "",
    arrival: Annotated[int | None, Query(ge=1, le=MAX_ROW_ID)] = None,
) -> Response:
    hits = await kiosk_of(request).backend.search(q) if q.strip() else []
    context = {"q": q, "hits": hits, "arrival": arrival, "searched": bool(q.strip())}
    return render(request, "search.html", context, who=who)
