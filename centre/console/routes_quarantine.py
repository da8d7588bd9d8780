"""Quarantine: the list, one message decoded, and the actions on it (operators only, each with
its CSRF token; release and discard with a reason)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.audit import MAX_REASON_CHARS, audit_entries
from centre.console.web import Acting, RecordReader, Who, console_of, render

router = APIRouter()
# quarantine.id is an INTEGER: beyond it is no message (and a driver error, not a 404).
ItemId = Annotated[int, PathParam(ge=1, le=2**31 - 1)]
Reason = Annotated[str, Form(max_length=MAX_REASON_CHARS)]


@router.get("/quarantine", response_class=HTMLResponse)
def quarantine_list(
    request: Request, who: RecordReader, released: int | None = None, discarded: int | None = None
) -> Response:
    desk = console_of(request).quarantine
    context = {
        "items": desk.latest(),
        "can_reverify": desk.inbox is not None,
        "released": released,
        "discarded": discarded,
    }
    return render(request, "quarantine.html", context, who=who)


def _item_page(
    request: Request, who: Who, item_id: int, verdict: object = None, status_code: int = 200
) -> Response:
    console = console_of(request)
    item, _raw = console.quarantine.get(item_id)
    context = {
        "item": item,
        "parts": console.quarantine.decoded(item_id),
        "verdict": verdict,
        "can_reverify": console.quarantine.inbox is not None,
        "history": audit_entries(console.engine, f"quarantine:{item_id}"),
    }
    return render(request, "quarantine_item.html", context, who=who, status_code=status_code)


@router.get("/quarantine/{item_id}", response_class=HTMLResponse)
def quarantine_item(request: Request, who: RecordReader, item_id: ItemId) -> Response:
    return _item_page(request, who, item_id)


@router.post("/quarantine/{item_id}/reverify", response_class=HTMLResponse)
def reverify(request: Request, who: Acting, item_id: ItemId) -> Response:
    verdict = console_of(request).quarantine.reverify(item_id, who.operator.login)
    return _item_page(request, who, item_id, verdict)


@router.post("/quarantine/{item_id}/release")
def release(request: Request, who: Acting, item_id: ItemId, reason: Reason = "") -> Response:
    released = console_of(request).quarantine.release(item_id, who.operator.login, reason)
    if released.verdict.passes:
        return RedirectResponse(f"/quarantine?released={item_id}", status_code=303)
    return _item_page(request, who, item_id, released.verdict, status_code=409)


@router.post("/quarantine/{item_id}/discard")
def discard(request: Request, who: Acting, item_id: ItemId, reason: Reason = "") -> Response:
    console_of(request).quarantine.discard(item_id, who.operator.login, reason)
    return RedirectResponse(f"/quarantine?discarded={item_id}", status_code=303)
