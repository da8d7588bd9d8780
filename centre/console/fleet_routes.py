"""The fleet pages: the boxes by country and crossing, the enrolments waiting, one box whole,
and the fleet operator's actions (approve or refuse an enrolment, set a twin, issue a command,
revoke; on one box or on a selection). Everyone logged in reads them; only the fleet role acts.

Every action is audited: done, by the fleet desk or the enrolments in the action's own
transaction; refused by them or found invalid here, by this module (with the reasons); refused
for the role, by `centre.console.web.refuse`. A typed reason lives in the audit only, never in
a log line."""

from __future__ import annotations

import datetime as dt
import logging
import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.audit import MAX_REASON_CHARS, ReasonError, audit, checked_reason
from centre.console.fleet_views import (
    COMMAND_ACTIONS,
    MAX_TTL_MINUTES,
    FleetPages,
    audit_item,
    parse_sections,
)
from centre.console.web import Actor, FleetActing, Who, console_of, render
from centre.fleet.desk import FleetError
from centre.fleet.enrolment import EnrolmentError
from edge.logs import log_event
from sync.messages import TWIN_SECTIONS

logger = logging.getLogger(__name__)
router = APIRouter()

NODE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$"
NodeId = Annotated[str, PathParam(pattern=NODE_PATTERN)]
CommandId = Annotated[str, PathParam(pattern=r"^[0-9a-f-]{36}$")]
Reason = Annotated[str, Form(max_length=MAX_REASON_CHARS)]
Action = Annotated[str, Form(max_length=16)]
TtlMinutes = Annotated[int, Form(ge=1, le=MAX_TTL_MINUTES)]
MAX_SECTION_CHARS = 64_000
MAX_SELECTED = 1000
NOTICES = ("command", "twin", "approved", "refused", "revoked")


class FleetNotFoundError(LookupError):
    """No such box in this fleet (or the console has no fleet desk)."""


def fleet_of(request: Request) -> FleetPages:
    fleet = console_of(request).fleet
    if fleet is None:
        raise FleetNotFoundError("this console was started without the fleet desk")
    return fleet


def _audit_refused(
    request: Request, who: Actor, action: str, node_ids: list[str], reason: str, outcome: str
) -> None:
    """An action not done (invalid, or refused by the fleet): audited per box, with why."""
    with console_of(request).engine.begin() as conn:
        for node in node_ids:
            audit(conn, who.operator.login, action, audit_item(node), reason, outcome[:300])


def _reasons(error: Exception) -> list[str]:
    reasons = getattr(error, "reasons", None)
    if isinstance(reasons, list) and reasons:
        return [str(r)[:300] for r in reasons]
    return [str(error)[:300] or type(error).__name__]


# --- reading -----------------------------------------------------------------------------------


def _fleet_page(
    request: Request,
    who: Actor,
    *,
    problems: list[str] | None = None,
    done: str | None = None,
    count: int | None = None,
    status_code: int = 200,
) -> Response:
    fleet = fleet_of(request)
    role = who.operator.role
    context = {
        "countries": fleet.countries(),
        "pending": fleet.pending(),
        "actions": COMMAND_ACTIONS,
        "sections": TWIN_SECTIONS,
        "can_act": role.acts_on_fleet,
        "can_enrol": role.acts_on_fleet and fleet.enrolments is not None,
        "done": done if done in NOTICES else None,
        "count": count,
        "problems": problems or [],
    }
    return render(request, "fleet.html", context, who=who, status_code=status_code)


@router.get("/fleet", response_class=HTMLResponse)
def fleet_page(
    request: Request, who: Who, done: str | None = None, count: int | None = None
) -> Response:
    return _fleet_page(request, who, done=done, count=count)


def _box_page(
    request: Request,
    who: Actor,
    node_id: str,
    *,
    problems: list[str] | None = None,
    typed: dict[str, str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    fleet = fleet_of(request)
    page = fleet.box(node_id)
    if page is None:
        raise FleetNotFoundError(f"box {node_id}: not in this fleet")
    role = who.operator.role
    context: dict[str, Any] = {
        "box": page,
        "texts": {name: page.desired_json(name) for name in TWIN_SECTIONS} | (typed or {}),
        "sections": TWIN_SECTIONS,
        "actions": COMMAND_ACTIONS,
        "problems": problems or [],
        "done": done if done in NOTICES else None,
        "can_act": role.acts_on_fleet,
        "can_revoke": role.acts_on_fleet and fleet.enrolments is not None,
        "history": page.audit,
    }
    return render(request, "fleet_box.html", context, who=who, status_code=status_code)


@router.get("/fleet/box/{node_id}", response_class=HTMLResponse)
def box_page(request: Request, who: Who, node_id: NodeId, done: str | None = None) -> Response:
    return _box_page(request, who, node_id, done=done)


@router.get("/fleet/box/{node_id}/command/{command_id}/attachment")
def attachment(request: Request, who: Who, node_id: NodeId, command_id: CommandId) -> Response:
    data = fleet_of(request).attachment(command_id)
    if data is None:
        raise FleetNotFoundError(f"command {command_id}: no diagnostics bundle")
    log_event(logger, logging.INFO, "console.fleet_attachment", node=node_id,
              command=command_id, operator=who.operator.login)  # fmt: skip
    name = f"diagnostics-{node_id}-{command_id}.tar.gz"
    return Response(
        data,
        media_type="application/gzip",
        headers={"content-disposition": f'attachment; filename="{name}"'},
    )


# --- acting on one box -------------------------------------------------------------------------


@router.post("/fleet/box/{node_id}/command")
def command(
    request: Request, who: FleetActing, node_id: NodeId, action: Action, ttl_minutes: TtlMinutes
) -> Response:
    problems = _issue(request, who, [node_id], action, ttl_minutes)
    if problems:
        return _box_page(request, who, node_id, problems=problems, status_code=422)
    return RedirectResponse(f"/fleet/box/{node_id}?done=command#commands-title", status_code=303)


@router.post("/fleet/box/{node_id}/twin")
async def set_twin(request: Request, who: FleetActing, node_id: NodeId) -> Response:
    form = await request.form()
    typed = {}
    for name in TWIN_SECTIONS:
        value = form.get(f"section_{name}", "")
        typed[name] = value[:MAX_SECTION_CHARS] if isinstance(value, str) else ""
    grace = form.get("grace_s", "300")
    problems = _set_twin(request, who, [node_id], typed, grace if isinstance(grace, str) else "")
    if problems:
        return _box_page(request, who, node_id, problems=problems, typed=typed, status_code=422)
    return RedirectResponse(f"/fleet/box/{node_id}?done=twin#twin", status_code=303)


@router.post("/fleet/box/{node_id}/revoke")
def revoke(request: Request, who: FleetActing, node_id: NodeId, reason: Reason = "") -> Response:
    fleet = fleet_of(request)
    why = checked_reason(reason)
    if fleet.enrolments is None:
        raise FleetNotFoundError("this console was started without the enrolments")
    try:
        fleet.enrolments.revoke(node_id, operator=who.operator.login, reason=why)
    except (EnrolmentError, ReasonError) as error:
        _audit_refused(request, who, "fleet.revoke", [node_id], why, f"refused: {error}")
        return _box_page(request, who, node_id, problems=_reasons(error), status_code=409)
    log_event(logger, logging.INFO, "console.fleet_revoke", node=node_id,
              operator=who.operator.login)  # fmt: skip
    return RedirectResponse(f"/fleet/box/{node_id}?done=revoked", status_code=303)


# --- enrolment ---------------------------------------------------------------------------------


@router.post("/fleet/enrolment/{node_id}/approve")
def approve(request: Request, who: FleetActing, node_id: NodeId) -> Response:
    fleet = fleet_of(request)
    if fleet.enrolments is None:
        raise FleetNotFoundError("this console was started without the enrolments")
    try:
        fleet.enrolments.approve(node_id, operator=who.operator.login)
    except EnrolmentError as error:
        _audit_refused(request, who, "fleet.approve", [node_id], "", f"refused: {error}")
        return _fleet_page(request, who, problems=_reasons(error), status_code=409)
    log_event(logger, logging.INFO, "console.fleet_approve", node=node_id,
              operator=who.operator.login)  # fmt: skip
    return RedirectResponse("/fleet?done=approved", status_code=303)


@router.post("/fleet/enrolment/{node_id}/refuse")
def refuse(request: Request, who: FleetActing, node_id: NodeId, reason: Reason = "") -> Response:
    fleet = fleet_of(request)
    why = checked_reason(reason)
    if fleet.enrolments is None:
        raise FleetNotFoundError("this console was started without the enrolments")
    try:
        fleet.enrolments.refuse(node_id, operator=who.operator.login, reason=why)
    except (EnrolmentError, ReasonError) as error:
        _audit_refused(request, who, "fleet.refuse", [node_id], why, f"refused: {error}")
        return _fleet_page(request, who, problems=_reasons(error), status_code=409)
    log_event(logger, logging.INFO, "console.fleet_refuse", node=node_id,
              operator=who.operator.login)  # fmt: skip
    return RedirectResponse("/fleet?done=refused", status_code=303)


# --- a selection -------------------------------------------------------------------------------


@router.post("/fleet/bulk")
async def bulk(request: Request, who: FleetActing) -> Response:
    form = await request.form()
    selected = [n for n in form.getlist("node") if isinstance(n, str) and re.match(NODE_PATTERN, n)]
    selected = list(dict.fromkeys(selected))[:MAX_SELECTED]
    op = form.get("op")
    if not selected:
        return _fleet_page(request, who, problems=["selection: no box selected"], status_code=422)
    if op == "command":
        action = str(form.get("action", ""))[:16]
        try:
            ttl = int(str(form.get("ttl_minutes", "")))
        except ValueError:
            ttl = 0
        problems = _issue(request, who, selected, action, ttl)
        if problems:
            return _fleet_page(request, who, problems=problems, status_code=422)
        return RedirectResponse(f"/fleet?done=command&count={len(selected)}", status_code=303)
    if op == "twin":
        section = str(form.get("section", ""))[:32]
        text = str(form.get("content", ""))[:MAX_SECTION_CHARS]
        if section not in TWIN_SECTIONS:
            problems = [f"{section}: not a section of the twin"]
        elif not text.strip():
            problems = [f"{section}: empty; type its content as JSON"]
        else:
            problems = _set_twin(
                request, who, selected, {section: text}, str(form.get("grace_s", "300"))
            )
        if problems:
            return _fleet_page(request, who, problems=problems, status_code=422)
        return RedirectResponse(f"/fleet?done=twin&count={len(selected)}", status_code=303)
    return _fleet_page(request, who, problems=["op: command or twin"], status_code=422)


# --- the actions -------------------------------------------------------------------------------


def _issue(
    request: Request, who: Actor, node_ids: list[str], action: str, ttl_minutes: int
) -> list[str]:
    """`action` to every box of `node_ids` (the desk audits it); why not, if it is not."""
    fleet = fleet_of(request)
    problems = []
    if action not in COMMAND_ACTIONS:
        problems.append(f"action: {action!r} is not a command; one of {', '.join(COMMAND_ACTIONS)}")
    if not 1 <= ttl_minutes <= MAX_TTL_MINUTES:
        problems.append(f"ttl_minutes: a whole number from 1 to {MAX_TTL_MINUTES}")
    if not problems:
        try:
            fleet.desk.issue_command(
                node_ids, action, operator=who.operator.login,
                ttl=dt.timedelta(minutes=ttl_minutes),
            )  # fmt: skip
        except FleetError as error:
            problems = _reasons(error)
    if problems:
        _audit_refused(request, who, "fleet.command", node_ids, "",
                       f"refused: {action}: " + "; ".join(problems))  # fmt: skip
        return problems
    log_event(logger, logging.INFO, "console.fleet_command", action=action, boxes=len(node_ids),
              operator=who.operator.login)  # fmt: skip
    return []


def _set_twin(
    request: Request, who: Actor, node_ids: list[str], typed: dict[str, str], grace: str
) -> list[str]:
    """Set the typed sections on every box of `node_ids` (the desk audits each); why not, if
    they cannot be (the desk checks them with the box's own models). The sections go to one
    box after the other: a box that refuses stops the rest, and the reasons name it."""
    fleet = fleet_of(request)
    sections, problems = parse_sections(typed)
    try:
        grace_s = int(grace)
    except ValueError:
        grace_s = 0
    if not 10 <= grace_s <= 24 * 3600:
        problems.append("grace_s: a whole number of seconds from 10 to 86400")
    if not sections and not problems:
        problems.append("sections: none typed; type the JSON of at least one")
    names = ", ".join(sorted(name for name, text in typed.items() if text.strip())) or "-"
    if problems:
        _audit_refused(request, who, "fleet.twin", node_ids, "",
                       f"invalid: {names}: " + "; ".join(problems))  # fmt: skip
        return problems
    for done, node in enumerate(node_ids):
        try:
            fleet.desk.set_desired(node, sections, operator=who.operator.login, grace_s=grace_s)
        except FleetError as error:
            reasons = _reasons(error)
            _audit_refused(request, who, "fleet.twin", [node], "",
                           f"invalid: {names}: " + "; ".join(reasons))  # fmt: skip
            if len(node_ids) > 1:
                reasons = [f"{node}: {r}" for r in reasons]
                if done:
                    sent = ", ".join(node_ids[:done])
                    reasons.append(f"sent before {node} to {done} box(es): {sent}")
            return reasons
    log_event(logger, logging.INFO, "console.fleet_twin", boxes=len(node_ids), sections=names,
              operator=who.operator.login)  # fmt: skip
    return []
