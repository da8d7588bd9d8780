"""The fleet's update pages: the rollouts (newest first), one rollout whole (its phases'
progress, each box's state and reason), and the fleet operator's actions: start a rollout of a
published bundle to a selection in phases, pause, resume, abort. Everyone logged in who reads
the fleet reads them; only the fleet role acts (CSRF-checked, as every fleet form).

The bundles offered are the TUF repository's targets when the console is given them
(`app.state.update_targets`: the service hands `TufRepository.targets`); without them the
operator types the target's name and version, checked against their patterns. Each action is
audited by the rollout store in its own transaction; one refused is audited here with why."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any, Protocol

from fastapi import APIRouter, Form, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.audit import MAX_REASON_CHARS, audit
from centre.console.fleet_routes import NODE_PATTERN, FleetNotFoundError, fleet_of
from centre.console.web import Actor, FleetActing, Who, console_of, render
from centre.updates.rollout import OPERATIONS, RolloutError, parse_phases
from centre.updates.rollout_store import MAX_SELECTION, RolloutStore
from edge.logs import log_event

logger = logging.getLogger(__name__)
router = APIRouter()

RolloutId = Annotated[str, PathParam(pattern=r"^[0-9a-f-]{36}$")]
Operation = Annotated[str, PathParam(pattern=r"^(pause|resume|abort)$")]
Reason = Annotated[str, Form(max_length=MAX_REASON_CHARS)]
DEFAULT_PHASES = "1, 10%, 50%, 100%"
MAX_FORM_CHARS = 200_000  # a selection of 10,000 node ids


class Published(Protocol):
    """A bundle of the TUF repository (centre.updates.tuf_repository.PublishedTarget)."""

    @property
    def name(self) -> str: ...

    @property
    def version(self) -> str: ...


def store_of(request: Request) -> RolloutStore:
    return RolloutStore(console_of(request).engine, fleet_of(request).desk)


def published(request: Request) -> list[Published] | None:
    """The repository's bundles, or None when the console was not given them."""
    targets: Callable[[], Sequence[Published]] | None = getattr(
        request.app.state, "update_targets", None
    )
    if targets is None:
        return None
    try:
        return list(targets())
    except Exception as error:  # a repository not initialised yet: typed names then
        log_event(logger, logging.WARNING, "console.update_targets_failed",
                  error=type(error).__name__)  # fmt: skip
        return None


# --- reading -----------------------------------------------------------------------------------


def _list_page(
    request: Request,
    who: Actor,
    *,
    problems: list[str] | None = None,
    typed: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    context: dict[str, Any] = {
        "rollouts": store_of(request).rollouts(),
        "targets": published(request),
        "can_act": who.operator.role.acts_on_fleet,
        "problems": problems or [],
        "typed": {
            "target": "",
            "version": "",
            "boxes": "",
            "all_boxes": "",
            "phases": DEFAULT_PHASES,
            "threshold_pct": "0",
            "min_finished": "1",
            "timeout_minutes": "",
            **(typed or {}),
        },
    }
    return render(request, "fleet_updates.html", context, who=who, status_code=status_code)


@router.get("/fleet/updates", response_class=HTMLResponse)
def updates_page(request: Request, who: Who) -> Response:
    return _list_page(request, who)


def _rollout_page(
    request: Request,
    who: Actor,
    rollout_id: str,
    *,
    problems: list[str] | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> Response:
    detail = store_of(request).detail(rollout_id)
    if detail is None:
        raise FleetNotFoundError(f"rollout {rollout_id}: no such rollout")
    context = {
        "detail": detail,
        "rollout": detail.rollout,
        "can_act": who.operator.role.acts_on_fleet,
        "operations": OPERATIONS,
        "problems": problems or [],
        "done": done if done in ("started", *OPERATIONS) else None,
    }
    return render(request, "fleet_update.html", context, who=who, status_code=status_code)


@router.get("/fleet/updates/{rollout_id}", response_class=HTMLResponse)
def rollout_page(
    request: Request, who: Who, rollout_id: RolloutId, done: str | None = None
) -> Response:
    return _rollout_page(request, who, rollout_id, done=done)


# --- acting ------------------------------------------------------------------------------------


@router.post("/fleet/updates/start")
async def start(request: Request, who: FleetActing) -> Response:
    form = await request.form()
    typed = {
        name: str(form.get(name, ""))[:MAX_FORM_CHARS]
        for name in ("target", "version", "boxes", "phases", "threshold_pct", "min_finished",
                     "timeout_minutes")
    }  # fmt: skip
    typed["all_boxes"] = "on" if form.get("all_boxes") == "on" else ""
    try:
        rollout_id = _start(request, who, typed)
    except RolloutError as error:
        with console_of(request).engine.begin() as conn:
            audit(conn, who.operator.login, "fleet.rollout", "rollout:new", "",
                  ("refused: " + "; ".join(error.reasons))[:300])  # fmt: skip
        return _list_page(request, who, problems=error.reasons, typed=typed, status_code=422)
    log_event(logger, logging.INFO, "console.rollout_started", rollout=rollout_id,
              operator=who.operator.login)  # fmt: skip
    return RedirectResponse(f"/fleet/updates/{rollout_id}?done=started", status_code=303)


def _start(request: Request, who: Actor, typed: dict[str, str]) -> str:
    problems: list[str] = []
    target, version = typed["target"].strip(), typed["version"].strip()
    offered = published(request)
    if offered is not None:
        match = [t for t in offered if t.name == target]
        if not match:
            problems.append(f"target: {target[:40]!r} is not a bundle of the update repository")
        else:
            version = match[0].version
    if typed["all_boxes"]:
        boxes = [b.node_id for b in fleet_of(request).desk.boxes() if b.state == "enrolled"]
    else:
        boxes = list(dict.fromkeys(typed["boxes"].split()))
        bad = [b for b in boxes if not _is_node(b)]
        problems += [f"boxes: {b[:40]!r} is not a node id" for b in bad[:10]]
    if len(boxes) > MAX_SELECTION:
        problems.append(f"boxes: {len(boxes)}; at most {MAX_SELECTION}")
    numbers = _numbers(typed, problems)
    try:
        phases = parse_phases(typed["phases"])
    except RolloutError as error:
        problems += error.reasons
        phases = ()
    if problems:
        raise RolloutError(problems)
    threshold_pct, min_finished, timeout_minutes = numbers
    return store_of(request).start(
        target, version, boxes, phases, operator=who.operator.login,
        threshold=threshold_pct / 100, min_finished=min_finished,
        box_timeout=dt.timedelta(minutes=timeout_minutes) if timeout_minutes else None,
    )  # fmt: skip


def _numbers(typed: dict[str, str], problems: list[str]) -> tuple[float, int, int]:
    def number(name: str, low: float, high: float, default: str = "") -> float:
        text = typed[name].strip() or default
        try:
            value = float(text)
        except ValueError:
            value = float("nan")
        if not low <= value <= high:
            problems.append(f"{name}: {text[:20]!r}; a number from {low:g} to {high:g}")
            return low
        return value

    threshold = number("threshold_pct", 0, 100, "0")
    min_finished = int(number("min_finished", 1, 1000, "1"))
    timeout = int(number("timeout_minutes", 0, 7 * 1440, "0"))
    if 0 < timeout < 5:
        problems.append("timeout_minutes: at least 5 (or empty: the centre's default)")
    return threshold, min_finished, timeout


def _is_node(text: str) -> bool:
    return re.match(NODE_PATTERN, text) is not None


@router.post("/fleet/updates/{rollout_id}/{operation}")
def operate(
    request: Request, who: FleetActing, rollout_id: RolloutId, operation: Operation,
    reason: Reason = "",
) -> Response:  # fmt: skip
    try:
        store_of(request).operate(rollout_id, operation, operator=who.operator.login, reason=reason)
    except RolloutError as error:
        with console_of(request).engine.begin() as conn:
            audit(conn, who.operator.login, "fleet.rollout", f"rollout:{rollout_id}", "",
                  f"refused: {operation}: {error}"[:300])  # fmt: skip
        return _rollout_page(request, who, rollout_id, problems=error.reasons, status_code=409)
    log_event(logger, logging.INFO, "console.rollout_operated", rollout=rollout_id,
              operation=operation, operator=who.operator.login)  # fmt: skip
    return RedirectResponse(f"/fleet/updates/{rollout_id}?done={operation}", status_code=303)
