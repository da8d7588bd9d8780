"""The SIE review queue: the partner records held for review, and approving or rejecting one
with a reason (operators only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.audit import MAX_REASON_CHARS
from centre.console.envelope_view import decode_envelope
from centre.console.web import Acting, RecordReader, console_of, render

router = APIRouter()
ItemId = Annotated[int, PathParam(ge=1, le=2**62)]
Reason = Annotated[str, Form(max_length=MAX_REASON_CHARS)]


@router.get("/review", response_class=HTMLResponse)
def review_queue(
    request: Request, who: RecordReader, approved: int | None = None, rejected: int | None = None
) -> Response:
    queue = console_of(request).review
    pending = queue.pending()
    context = {
        "approved": approved,
        "rejected": rejected,
        "pending": pending,
        "parts": {held.id: decode_envelope(held.envelope) for held in pending},
        "decided": queue.decided(),
    }
    return render(request, "review.html", context, who=who)


@router.post("/review/{item_id}/approve")
def approve(request: Request, who: Acting, item_id: ItemId, reason: Reason = "") -> Response:
    console_of(request).review.approve(item_id, who.operator.login, reason)
    return RedirectResponse(f"/review?approved={item_id}", status_code=303)


@router.post("/review/{item_id}/reject")
def reject(request: Request, who: Acting, item_id: ItemId, reason: Reason = "") -> Response:
    console_of(request).review.reject(item_id, who.operator.login, reason)
    return RedirectResponse(f"/review?rejected={item_id}", status_code=303)
