"""`create_app(backend, settings)`: the kiosk as an ASGI app (FastAPI), ready for uvicorn."""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.middleware.trustedhost import TrustedHostMiddleware

from edge.logs import log_event
from edge.web_pieces import SecurityHeaders
from ui_kiosk import texts
from ui_kiosk.backend import KioskBackend, KioskError
from ui_kiosk.body_guard import BodyGuard, not_logged_in, wants_json
from ui_kiosk.i18n import Catalogs
from ui_kiosk.login_guard import LoginGuard
from ui_kiosk.routes import api, auth, desk, events, sync_stuck, trucks
from ui_kiosk.sessions import COOKIE_NAME, wall_clock
from ui_kiosk.settings import KioskSettings
from ui_kiosk.web import Actor, CsrfError, Kiosk, NotLoggedInError, make_templates, render

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

# Everything the pages load comes from the box itself; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),  # no-referrer would make form posts say Origin: null
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def create_app(
    backend: KioskBackend,
    settings: KioskSettings | None = None,
    *,
    clock: Callable[[], float] | None = None,
) -> FastAPI:
    """The kiosk app over `backend`. `clock` (seconds) times sessions and lockouts; by default
    sessions follow the box's clock (they outlive a restart) and lockouts a monotonic one."""
    settings = settings or KioskSettings()
    sessions = backend.session_store(settings.idle_timeout_seconds, clock or wall_clock)
    app = FastAPI(
        lifespan=_purge_sessions_at_start,
        title="carec-edge kiosk",
        summary="The border officer's screen: the queue, a truck, its decision.",
        version="1",
        docs_url=None,  # Swagger UI and ReDoc load scripts from a CDN: not on this box
        redoc_url=None,
        openapi_url=None,  # served below, to logged-in officers only
    )
    app.state.kiosk = Kiosk(
        backend=backend,
        settings=settings,
        sessions=sessions,
        guard=LoginGuard(
            settings.max_login_failures, settings.lockout_minutes * 60, clock or time.monotonic
        ),
        catalogs=Catalogs(settings.default_language),
        templates=make_templates(),
    )
    for module in (auth, trucks, desk, events, api):
        app.include_router(module.router)
    app.include_router(sync_stuck.router)
    app.include_router(api.openapi_router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _handle_errors(app)
    # Innermost of the three: the host is checked first, then the session, then the body.
    app.add_middleware(BodyGuard, sessions=sessions)
    app.add_middleware(
        TrustedHostMiddleware,
        allowed_hosts=sorted({settings.host, "127.0.0.1", "localhost", *settings.allowed_hosts}),
    )
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)
    return app


@asynccontextmanager
async def _purge_sessions_at_start(app: FastAPI) -> AsyncIterator[None]:
    """At start, the expired sessions go, through the store's runner (never on the event loop).
    Housekeeping only: if it fails, the kiosk serves anyway and the next login purges."""
    sessions = app.state.kiosk.sessions
    try:
        purged = await sessions.purge_expired()
    except Exception as error:  # any failure: say so, and serve
        log_event(logger, logging.ERROR, "kiosk.sessions_purge_failed", error=str(error))
    else:
        log_event(logger, logging.INFO, "kiosk.sessions_purged", expired=purged)
    yield


def _wants_json(request: Request) -> bool:
    return wants_json(request.url.path)


def _invalid_fields(error: RequestValidationError) -> str:
    """Which fields did not fit and why, never what they held (it can be 50 MB, or a PIN)."""
    parts = []
    for item in error.errors()[:10]:
        where = ".".join(str(part) for part in item.get("loc", ()))[:100]
        parts.append(f"{where}: {str(item.get('msg', 'invalid'))[:200]}")
    return "; ".join(parts)


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(NotLoggedInError)
    async def no_session(request: Request, _error: Exception) -> Response:
        return not_logged_in(request)

    @app.exception_handler(CsrfError)
    async def csrf_refused(request: Request, _error: Exception) -> Response:
        log_event(logger, logging.WARNING, "kiosk.csrf_refused", path=request.url.path)
        if _wants_json(request):
            return JSONResponse({"error": "csrf", "detail": "no valid CSRF token"}, 403)
        return await _error_page(request, "csrf", 403)

    @app.exception_handler(KioskError)
    async def refused(request: Request, error: Exception) -> Response:
        assert isinstance(error, KioskError)
        log_event(logger, logging.WARNING, "kiosk.refused", path=request.url.path,
                  code=error.code.value, detail=error.detail)  # fmt: skip
        if _wants_json(request):
            body = {"error": error.code.value, "detail": error.detail}
            return JSONResponse(body, status_code=error.code.status)
        return await _error_page(request, error.code.value, error.code.status, minimum=error.detail)

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        detail = _invalid_fields(error)
        log_event(logger, logging.WARNING, "kiosk.invalid", path=request.url.path, detail=detail)
        if _wants_json(request):
            return JSONResponse({"error": "invalid", "detail": detail}, 422)
        return await _error_page(request, "invalid", 422)


async def _error_page(request: Request, code: str, status: int, minimum: str = "") -> Response:
    """The error in the officer's language (the default one when nobody is logged in)."""
    kiosk: Kiosk = request.app.state.kiosk
    session = await kiosk.sessions.get(request.cookies.get(COOKIE_NAME), touch=False)
    officer = await kiosk.backend.officer(session.officer_id) if session else None
    who = Actor(officer, session) if officer is not None and session is not None else None
    truck = re.match(r"^/arrivals/([0-9]+)", request.url.path)
    return render(
        request,
        "error.html",
        {
            "code": code,
            "minimum": texts.DECISIONS.get(minimum, minimum),
            "back": f"/arrivals/{truck.group(1)}" if truck else "/",
        },
        who=who,
        status_code=status,
    )
