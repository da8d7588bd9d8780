"""The pages that only read: the overview of the links and boxes, the trace of one record, and
the audit."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response

from centre.audit import audit_entries
from centre.console.overview import LINK_KINDS, box_states
from centre.console.trace import trace
from centre.console.transparency import alert_count
from centre.console.web import RecordReader, Who, console_of, render
from edge.timeutil import utcnow

router = APIRouter()


@router.get("/", response_class=HTMLResponse)
def overview(request: Request, who: Who) -> Response:
    console = console_of(request)
    boxes = box_states(console.engine, console.centre_id, console.routing)
    context = {
        "links": list(console.links()) if console.links is not None else None,
        "link_kinds": LINK_KINDS,
        # A partner's backlog is its box row (messages to its centre): shown on its link too.
        "backlog_of": {box.node: box.backlog for box in boxes},
        "boxes": boxes,
        "now": utcnow(),
        "quarantined": console.quarantine.count(),
        "pending_reviews": len(console.review.pending()),
        "tlog_alerts": alert_count(console.engine),
    }
    return render(request, "overview.html", context, who=who)


@router.get("/trace", response_class=HTMLResponse)
def trace_page(
    request: Request, who: RecordReader, ref: Annotated[str, Query(max_length=35)] = ""
) -> Response:
    found = trace(console_of(request).engine, ref) if ref.strip() else []
    return render(request, "trace.html", {"ref": ref.strip(), "found": found}, who=who)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(request: Request, who: Who) -> Response:
    entries = audit_entries(console_of(request).engine)
    return render(request, "audit.html", {"entries": entries}, who=who)
