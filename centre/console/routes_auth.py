"""Logging in (login and password), logging out, and the operator's language."""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.console.i18n import LANGUAGES
from centre.console.operators import MAX_PASSWORD_CHARS
from centre.console.sessions import COOKIE_NAME
from centre.console.web import Changing, console_of, render
from edge.logs import log_event

logger = logging.getLogger(__name__)
router = APIRouter()

# Keys the digests of refused logins in the log; new each start, so a digest cannot be undone
# by hashing guesses (a password typed into the login field must not reach the log).
_LOG_KEY = secrets.token_bytes(32)


def _digest(login: str) -> str:
    return hmac.new(_LOG_KEY, login.encode(), hashlib.sha256).hexdigest()[:16]


def local_path(path: str | None) -> str | None:
    """`path` if it is a path on this console (never another site: no scheme, no host)."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return None
    parts = urlsplit(path)
    return path if not parts.scheme and not parts.netloc else None


def _same_origin(request: Request) -> bool:
    origin = request.headers.get("origin")
    return origin is None or urlsplit(origin).netloc == request.headers.get("host")


@router.get("/login", response_class=HTMLResponse)
def login_page(request: Request, lang: str | None = None, next: str | None = None) -> Response:
    context = {"error": None, "next": local_path(next) or "", "login": ""}
    return render(request, "login.html", context, language=lang)


@router.post("/login")
def login(
    request: Request,
    login: Annotated[str, Form(max_length=64)] = "",
    password: Annotated[str, Form(max_length=MAX_PASSWORD_CHARS)] = "",
    lang: Annotated[str, Form(max_length=8)] = "",
    next: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    console = console_of(request)
    login = login.strip().lower()

    def again(error: str, status: int) -> Response:
        context = {"error": error, "next": local_path(next) or "", "login": login}
        return render(request, "login.html", context, language=lang, status_code=status)

    if not _same_origin(request):
        log_event(logger, logging.WARNING, "console.login_cross_origin")
        return again("failed", 403)
    if console.guard.locked(login):
        log_event(logger, logging.WARNING, "console.login_locked", login_digest=_digest(login))
        return again("locked", 429)
    operator = console.operators.verify(login, password) if login and password else None
    if operator is None:
        console.guard.failed(login)
        log_event(logger, logging.WARNING, "console.login_failed", login_digest=_digest(login))
        return again("failed", 401)
    console.guard.succeeded(login)
    _session, cookie = console.sessions.create(operator.login)
    log_event(logger, logging.INFO, "console.login", operator=operator.login,
              role=operator.role.value)  # fmt: skip
    response = RedirectResponse(local_path(next) or "/", status_code=303)
    response.set_cookie(
        COOKIE_NAME, cookie, httponly=True, samesite="strict",
        secure=console.settings.cookie_secure, path="/",
    )  # fmt: skip
    return response


@router.post("/logout")
def logout(request: Request, who: Changing) -> Response:
    console_of(request).sessions.end(who.session.id)
    log_event(logger, logging.INFO, "console.logout", operator=who.operator.login)
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="strict")
    return response


@router.post("/language")
def set_language(
    request: Request,
    who: Changing,
    language: Annotated[str, Form(max_length=8)],
    next: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    if language in LANGUAGES:
        console_of(request).operators.set_language(who.operator.login, language)
    return RedirectResponse(local_path(next) or "/", status_code=303)
