"""The risk profiles page: the set in force, each profile's hit rate and the random selection's
(so a country retires profiles that find nothing), the versions issued, and issuing a new one
from the text box (JSON or TOML, filled with the set in force) or an uploaded file. Reading is
for every role; issuing is for operators, with the session's CSRF token, audited in the same
transaction that stores the version and writes it to the outbox for every box."""

from __future__ import annotations

import logging
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.audit import audit
from centre.console.web import Acting, Actor, Who, console_of, render
from centre.risk_profiles.desk import (
    MAX_DRAFT_BYTES,
    DraftError,
    RiskProfileDesk,
    draft_json,
    parse_draft_text,
)
from centre.risk_profiles.results import hit_rates
from edge.logs import log_event
from edge.timeutil import utcnow

logger = logging.getLogger(__name__)
router = APIRouter()
FORMATS = ("json", "toml")


def _desk(request: Request) -> RiskProfileDesk | None:
    console = console_of(request)
    if console.fleet is None:  # no outbox to send through
        return None
    routed = [node for nodes in console.routing.values() for node in nodes]
    return RiskProfileDesk(
        console.engine, console.fleet.desk.outbox, console.centre_id[:2], lambda: routed
    )


def _page(
    request: Request,
    who: Actor,
    *,
    problems: list[str] | None = None,
    typed: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    desk = _desk(request)
    current = desk.current() if desk is not None else None
    profiles, random = hit_rates(console_of(request).engine)
    lanes = {p.name: p.lane for p in current.profiles} if current else {}
    context = {
        "current": current,
        "versions": desk.versions() if desk is not None else [],
        "profiles": profiles,
        "random": random,
        "lanes": lanes,
        "draft": typed if typed is not None else draft_json(current),
        "problems": problems or [],
        "done": done,
        "can_issue": desk is not None,
    }
    return render(request, "risk_profiles.html", context, who=who, status_code=status_code)


@router.get("/risk-profiles", response_class=HTMLResponse)
def risk_profiles(request: Request, who: Who, done: str | None = None) -> Response:
    return _page(request, who, done=done if done == "issued" else None)


@router.post("/risk-profiles")
def issue(
    request: Request,
    who: Acting,
    draft: Annotated[str, Form(max_length=MAX_DRAFT_BYTES)] = "",
    format: Annotated[str, Form(max_length=8)] = "json",
    upload: Annotated[UploadFile | None, File()] = None,
) -> Response:
    desk = _desk(request)
    if desk is None:
        return _page(request, who, problems=["the console runs without the fleet desk: nothing"
                     " to send through"], status_code=409)  # fmt: skip
    text: str | bytes = draft
    kind = format if format in FORMATS else ""
    if upload is not None and upload.filename:
        text = upload.file.read(MAX_DRAFT_BYTES + 1)
        kind = upload.filename.rsplit(".", 1)[-1].lower()
    try:
        parsed = parse_draft_text(text, kind)
    except DraftError as error:
        typed = draft if isinstance(text, str) else None
        return _page(request, who, problems=error.problems, typed=typed, status_code=422)
    source = f"upload:{kind}" if isinstance(text, bytes) else f"form:{kind}"
    with console_of(request).engine.begin() as conn:
        issued = desk.issue(conn, parsed, who.operator.login, source, utcnow())
        audit(conn, who.operator.login, "risk_profiles.issue",
              f"risk_profiles:{issued.rules.version}", "",
              f"version {issued.rules.version}: {len(issued.rules.profiles)} profiles, random "
              f"yellow {issued.rules.random.yellow} red {issued.rules.random.red}, sent to "
              f"{len(issued.boxes)} boxes")  # fmt: skip
    log_event(logger, logging.INFO, "console.risk_profiles_issued", operator=who.operator.login,
              version=issued.rules.version, boxes=len(issued.boxes))  # fmt: skip
    return RedirectResponse("/risk-profiles?done=issued", status_code=303)
