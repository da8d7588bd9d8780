"""What every route needs: the console's state, who is asking (from the session, never from
the browser's word), their role, CSRF checks, and rendering a template in their language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, NoReturn

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment
from sqlalchemy import Engine

from centre.audit import audit
from centre.console.fleet_views import FleetPages
from centre.console.i18n import LANGUAGES, Catalogs
from centre.console.operators import Operator, OperatorStore
from centre.console.overview import LinkState
from centre.console.quarantine import QuarantineDesk
from centre.console.sessions import COOKIE_NAME, LoginGuard, Session, SessionStore, csrf_matches
from centre.console.settings import ConsoleSettings
from centre.review_queue import ReviewQueue
from edge.web_pieces import template_environment

TEMPLATES = Path(__file__).parent / "templates"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "X-CSRF-Token"


class NotLoggedInError(Exception):
    """No live session: the page sends the browser to the login."""


class CsrfError(Exception):
    """A state-changing request without this session's CSRF token."""


class NotAllowedError(Exception):
    """The operator's role may not do this (a viewer acting)."""


@dataclass
class Console:
    engine: Engine
    settings: ConsoleSettings
    centre_id: str
    routing: Mapping[str, Sequence[str]]
    operators: OperatorStore
    sessions: SessionStore
    guard: LoginGuard
    catalogs: Catalogs
    templates: Environment
    quarantine: QuarantineDesk
    review: ReviewQueue
    links: Callable[[], Sequence[LinkState]] | None = None  # None: the overview shows no links
    fleet: FleetPages | None = None  # None: no fleet pages (a console without the fleet desk)


@dataclass(frozen=True)
class Actor:
    operator: Operator
    session: Session


def make_templates() -> Environment:
    return template_environment(TEMPLATES)


def console_of(request: Request) -> Console:
    console: Console = request.app.state.console
    return console


def actor(request: Request) -> Actor:
    console = console_of(request)
    session = console.sessions.get(request.cookies.get(COOKIE_NAME))
    if session is None:
        raise NotLoggedInError
    operator = console.operators.get(session.login)
    if operator is None or not operator.active:
        console.sessions.end_login(session.login)
        raise NotLoggedInError
    return Actor(operator, session)


async def csrf_checked(request: Request, who: Annotated[Actor, Depends(actor)]) -> Actor:
    """For every request that changes something: the session's token, in the form or header."""
    token = request.headers.get(CSRF_HEADER)
    if token is None and request.headers.get("content-type", "").startswith(
        ("application/x-www-form-urlencoded", "multipart/form-data")
    ):
        value = (await request.form()).get(CSRF_FIELD)
        token = value if isinstance(value, str) else None
    if not csrf_matches(who.session, token):
        raise CsrfError
    return who


def refuse(request: Request, who: Actor) -> NoReturn:
    """An action the operator's role may not take: audited as refused, then a 403."""
    with console_of(request).engine.begin() as conn:
        audit(conn, who.operator.login, "refused", f"{request.method} {request.url.path}", "",
              f"refused: role {who.operator.role.value}")  # fmt: skip
    raise NotAllowedError


def acting(request: Request, who: Annotated[Actor, Depends(csrf_checked)]) -> Actor:
    """An operator who may act (re-verify, release, discard, approve, reject)."""
    if not who.operator.role.acts:
        refuse(request, who)
    return who


def fleet_acting(request: Request, who: Annotated[Actor, Depends(csrf_checked)]) -> Actor:
    """A fleet operator (approve or refuse an enrolment, set a twin, command, revoke)."""
    if not who.operator.role.acts_on_fleet:
        refuse(request, who)
    return who


def record_reader(who: Annotated[Actor, Depends(actor)]) -> Actor:
    """Someone who may read records and messages (not the fleet's roles)."""
    if not who.operator.role.reads_records:
        raise NotAllowedError
    return who


Who = Annotated[Actor, Depends(actor)]
RecordReader = Annotated[Actor, Depends(record_reader)]
Changing = Annotated[Actor, Depends(csrf_checked)]
Acting = Annotated[Actor, Depends(acting)]
FleetActing = Annotated[Actor, Depends(fleet_acting)]


def fmt_time(moment: dt.datetime | None) -> str:
    """UTC, to the second: the centre serves a country, often several time zones."""
    return moment.astimezone(dt.UTC).strftime("%Y-%m-%d %H:%M:%S UTC") if moment else "—"


def fmt_age(age: dt.timedelta | None) -> str:
    if age is None:
        return "—"
    seconds = max(0, int(age.total_seconds()))
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{minutes}m {rest % 60}s"


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    who: Actor | None = None,
    language: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    console = console_of(request)
    lang = console.catalogs.language(who.operator.language if who else language)
    translations = console.catalogs.gettext(lang)

    def gettext(message: str, **values: object) -> str:
        text = translations.gettext(message)
        return text % values if values else text

    full = {
        "_": gettext,
        "lang": lang,
        "languages": LANGUAGES,
        "operator": who.operator if who else None,
        "csrf": who.session.csrf_token if who else "",
        "csrf_field": CSRF_FIELD,
        "path": request.url.path,
        "fmt_time": fmt_time,
        "fmt_age": fmt_age,
        "fleet_enabled": console.fleet is not None,
    }
    html = console.templates.get_template(template).render(full | context)
    return HTMLResponse(html, status_code=status_code)
