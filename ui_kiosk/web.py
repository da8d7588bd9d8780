"""What every route needs: the kiosk's state, who is asking (from the session, never from the
browser's word), CSRF checks, and rendering a template in the officer's language."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse
from jinja2 import Environment

from edge.officers import Officer, Role
from edge.risk import DISCREPANCY_LANES
from edge.store.schema import MAX_STORED_INT
from edge.web_pieces import template_environment
from ui_kiosk import texts
from ui_kiosk.backend import ErrorCode, KioskBackend, KioskError
from ui_kiosk.i18n import LANGUAGES, Catalogs
from ui_kiosk.login_guard import LoginGuard
from ui_kiosk.models import DiscrepancyView
from ui_kiosk.sessions import COOKIE_NAME, Session, SessionStore, csrf_matches
from ui_kiosk.settings import KioskSettings
from ui_kiosk.translit import name_latin, plate_latin

TEMPLATES = Path(__file__).parent / "templates"
CSRF_FIELD = "csrf_token"
# A row id of the store: beyond the store's largest integer is no truck (and would overflow the
# driver: a 500), so it is refused as invalid before any lookup.
MAX_ROW_ID = MAX_STORED_INT
ArrivalId = Annotated[int, PathParam(ge=1, le=MAX_ROW_ID)]
CSRF_HEADER = "X-CSRF-Token"


class NotLoggedInError(Exception):
    """No live session: pages redirect to the login, the API answers 401."""


class CsrfError(Exception):
    """A state-changing request without this session's CSRF token."""


@dataclass
class Kiosk:
    backend: KioskBackend
    settings: KioskSettings
    sessions: SessionStore
    guard: LoginGuard
    catalogs: Catalogs
    templates: Environment


@dataclass(frozen=True)
class Actor:
    """The officer behind a request, as the store knows them now, and their session."""

    officer: Officer
    session: Session


def make_templates() -> Environment:
    return template_environment(TEMPLATES)


def kiosk_of(request: Request) -> Kiosk:
    kiosk: Kiosk = request.app.state.kiosk
    return kiosk


async def _actor(request: Request, touch: bool) -> Actor:
    kiosk = kiosk_of(request)
    session = await kiosk.sessions.get(request.cookies.get(COOKIE_NAME), touch=touch)
    if session is None:
        raise NotLoggedInError
    officer = await kiosk.backend.officer(session.officer_id)
    if officer is None or not officer.active:
        await kiosk.sessions.end_officer(session.officer_id)
        raise NotLoggedInError
    return Actor(officer, session)


async def actor(request: Request) -> Actor:
    """Who is asking; the session's idle clock starts again (the officer did something)."""
    return await _actor(request, touch=True)


async def quiet_actor(request: Request) -> Actor:
    """Who is asking, for the page's own live refreshes: they do not keep a session alive."""
    return await _actor(request, touch=False)


def require(*roles: Role) -> Callable[..., Any]:
    async def check(who: Annotated[Actor, Depends(actor)]) -> Actor:
        if who.officer.role not in roles:
            raise KioskError(ErrorCode.NOT_ALLOWED, f"{who.officer.role.value} may not do this")
        return who

    return check


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


Who = Annotated[Actor, Depends(actor)]
QuietWho = Annotated[Actor, Depends(quiet_actor)]
Changing = Annotated[Actor, Depends(csrf_checked)]
DECIDERS = (Role.OFFICER, Role.SUPERVISOR)


def deciders(who: Changing) -> Actor:
    if who.officer.role not in DECIDERS:
        raise KioskError(ErrorCode.NOT_ALLOWED, f"{who.officer.role.value} may not decide")
    return who


def supervisors(who: Changing) -> Actor:
    if who.officer.role is not Role.SUPERVISOR:
        raise KioskError(ErrorCode.NOT_ALLOWED, f"{who.officer.role.value} may not reopen")
    return who


Decider = Annotated[Actor, Depends(deciders)]
Supervisor = Annotated[Actor, Depends(supervisors)]


class Renderer:
    """The helpers a template gets, in one officer's language and the post's time zone."""

    def __init__(self, kiosk: Kiosk, language: str) -> None:
        self.language = kiosk.catalogs.language(language)
        self._gettext = kiosk.catalogs.gettext(self.language).gettext
        self._zone = kiosk.settings.zone

    def gettext(self, message: str, **values: object) -> str:
        text = self._gettext(message)
        return text % values if values else text

    def phrase(self, table: dict[str, str], code: str, **values: object) -> str:
        return texts.phrase(self._gettext, table, code, **values)

    def discrepancy(self, d: DiscrepancyView) -> str:
        expected = d.expected
        if d.code == "OUTSIDE_ARRIVAL_WINDOW" and expected:
            expected = self.time(dt.datetime.fromisoformat(expected.replace("Z", "+00:00")))
        return self.phrase(texts.DISCREPANCIES, d.code, expected=expected, observed=d.observed)

    def time(self, moment: dt.datetime | None) -> str:
        return moment.astimezone(self._zone).strftime("%Y-%m-%d %H:%M") if moment else "—"

    def clock(self, moment: dt.datetime | None) -> str:
        return moment.astimezone(self._zone).strftime("%H:%M") if moment else "—"

    def context(self) -> dict[str, Any]:
        return {
            "_": self.gettext,
            "lang": self.language,
            "languages": LANGUAGES,
            "phrase": self.phrase,
            "discrepancy": self.discrepancy,
            "fmt_time": self.time,
            "fmt_clock": self.clock,
            "plate_latin": plate_latin,
            "name_latin": name_latin,
            "T": texts,
            "discrepancy_lanes": {
                code.value: lane.value for code, lane in DISCREPANCY_LANES.items()
            },
        }


def render(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    who: Actor | None = None,
    language: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    kiosk = kiosk_of(request)
    renderer = Renderer(kiosk, who.officer.language if who else (language or ""))
    full = renderer.context() | {
        "officer": who.officer if who else None,
        "csrf": who.session.csrf_token if who else "",
        "csrf_field": CSRF_FIELD,
        "timezone": kiosk.settings.timezone,
        "path": request.url.path,
    }
    html = kiosk.templates.get_template(template).render(full | context)
    return HTMLResponse(html, status_code=status_code)
