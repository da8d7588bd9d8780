"""Logging in (badge or id, and PIN), logging out, and the officer's language."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from edge.logs import log_event
from edge.officers import Officer, Role
from ui_kiosk.i18n import LANGUAGES
from ui_kiosk.login_guard import guard_key
from ui_kiosk.sessions import COOKIE_NAME
from ui_kiosk.web import Changing, kiosk_of, render

logger = logging.getLogger(__name__)
router = APIRouter()

MAX_LOGIN_CHARS = 64
MAX_PIN_CHARS = 12
# Keys the digests of unknown logins in the log; new each start, so a digest cannot be undone
# by hashing every short PIN.
_LOG_KEY = secrets.token_bytes(32)


def _log_attempt(event: str, named: str | None, login: str, **counts: int) -> None:
    """Never what was typed (a PIN typed into the wrong field): the officer it named, or a
    keyed digest that only tells repeated attempts apart."""
    if named is not None:
        logger.warning(event, extra={"officer": named, **counts})
    else:
        digest = hmac.new(_LOG_KEY, login.encode(), hashlib.sha256).hexdigest()[:16]
        logger.warning(event, extra={"login_digest": digest, **counts})


def home_of(officer: Officer) -> str:
    return "/status" if officer.role is Role.TECHNICIAN else "/queue"


def _local(path: str | None) -> str | None:
    """`path` if it is a path on this box (never another site: no scheme, no host)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    parts = urlsplit(path)
    return path if not parts.scheme and not parts.netloc else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(
    request: Request, lang: str | None = None, next: str | None = None
) -> Response:
    return render(
        request,
        "login.html",
        {"error": None, "next": _local(next) or "", "login": ""},
        language=lang,
    )


@router.post("/login", include_in_schema=False)
async def login(
    request: Request,
    login: Annotated[str, Form(max_length=MAX_LOGIN_CHARS)] = "",
    pin: Annotated[str, Form(max_length=MAX_PIN_CHARS)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
    next: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    kiosk = kiosk_of(request)
    login = login.strip()

    def again(error: str, status: int) -> Response:
        context = {"error": error, "next": _local(next) or "", "login": login}
        return render(request, "login.html", context, language=lang, status_code=status)

    if not _same_origin(request):
        log_event(logger, logging.WARNING, "kiosk.login_cross_origin",
                  origin=request.headers.get("origin"))  # fmt: skip
        return again("failed", 403)
    # One count per officer, whether named by id or badge (and one per unknown login).
    named = await kiosk.backend.officer_id_of(login) if login else None
    key = guard_key(named, login)
    if kiosk.guard.locked(key):
        _log_attempt("kiosk.login_locked", named, login)
        return again("locked", 429)
    officer = await kiosk.backend.login(login, pin) if login and pin else None
    if officer is None:
        failures = kiosk.guard.failed(key)
        _log_attempt(
            "kiosk.login_failed", named, login, failures=failures, total=kiosk.guard.total_failures
        )
        return again("failed", 401)
    kiosk.guard.succeeded(key)
    _session, cookie = await kiosk.sessions.create(officer.id)
    log_event(logger, logging.INFO, "kiosk.login", officer=officer.id, role=officer.role.value)
    response = RedirectResponse(_local(next) or home_of(officer), status_code=303)
    response.set_cookie(
        COOKIE_NAME,
        cookie,
        httponly=True,
        samesite="strict",
        secure=kiosk.settings.cookie_secure,
        path="/",
    )
    return response


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, who: Changing) -> Response:
    await kiosk_of(request).sessions.end(who.session.id)
    log_event(logger, logging.INFO, "kiosk.logout", officer=who.officer.id)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.post("/language", include_in_schema=False)
async def set_language(
    request: Request,
    who: Changing,
    language: Annotated[str, Form(max_length=8)],
    next: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if language in LANGUAGES:
        await kiosk_of(request).backend.set_language(who.officer.id, language)
    target = _local(next) or home_of(who.officer)
    separator = "&" if "?" in target else "?"
    return RedirectResponse(f"{target}{separator}done=language", status_code=303)
