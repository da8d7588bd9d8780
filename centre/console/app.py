"""`create_console(engine, settings, reverify=inbox)`: the operators' console as an ASGI app
(FastAPI), ready for uvicorn. Pages only, in the operator's language, nothing loaded from
elsewhere; every state change needs a session, its CSRF token and, to act, the operator role."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

from argon2 import PasswordHasher
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine
from starlette.concurrency import run_in_threadpool
from starlette.middleware.trustedhost import TrustedHostMiddleware

from centre.audit import ReasonError
from centre.console import (
    fleet_routes,
    fleet_updates,
    routes_analytics,
    routes_assessment,
    routes_auth,
    routes_pages,
    routes_quarantine,
    routes_review,
    routes_risk,
    routes_transparency,
)
from centre.console.fleet_routes import FleetNotFoundError
from centre.console.fleet_views import FleetPages
from centre.console.i18n import Catalogs
from centre.console.operators import OperatorStore
from centre.console.overview import LinkState
from centre.console.quarantine import QuarantineDesk, QuarantineError, Reverifier
from centre.console.sessions import COOKIE_NAME, Clock, LoginGuard, SessionStore, wall_clock
from centre.console.settings import ConsoleSettings
from centre.console.web import (
    Actor,
    Console,
    CsrfError,
    NotAllowedError,
    NotLoggedInError,
    console_of,
    make_templates,
    render,
)
from centre.fleet.desk import FleetDesk
from centre.fleet.enrolment import Enrolments
from centre.review_queue import ReviewError, ReviewQueue
from edge.logs import log_event
from edge.web_pieces import SecurityHeaders

logger = logging.getLogger(__name__)
STATIC = Path(__file__).parent / "static"

# Everything the pages load comes from the centre itself; nothing inline, nothing from elsewhere.
CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; font-src 'self'; object-src 'none'; base-uri 'none'; "
    "form-action 'self'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cache-control", b"no-store"),
]


def create_console(
    engine: Engine,
    settings: ConsoleSettings | None = None,
    reverify: Reverifier | None = None,
    *,
    centre_id: str = "",
    routing: Mapping[str, Sequence[str]] | None = None,
    review: ReviewQueue | None = None,
    links: Callable[[], Sequence[LinkState]] | None = None,
    clock: Clock = wall_clock,
    hasher: PasswordHasher | None = None,
    fleet_desk: FleetDesk | None = None,
    enrolments: Enrolments | None = None,
) -> FastAPI:
    """The console over the centre's migrated database. `reverify` is the centre's inbox (built
    with its key lookup and appliers): without it, quarantine can be read and discarded, not
    re-verified or released. `review` carries the partner link's `on_approved`. `links` gives
    the service's links as they are now (`centre.console.link_states`), asked at each overview.
    `fleet_desk` reads and acts on the fleet (without it, no fleet pages); `enrolments`
    approves, refuses and revokes boxes (without it, no enrolment to decide)."""
    settings = settings or ConsoleSettings()
    app = FastAPI(
        title="carec-edge centre console", docs_url=None, redoc_url=None, openapi_url=None
    )
    app.state.console = Console(
        engine=engine,
        settings=settings,
        centre_id=centre_id,
        routing=dict(routing or {}),
        operators=OperatorStore(engine, hasher),
        sessions=SessionStore(engine, settings.idle_timeout_minutes * 60, clock),
        guard=LoginGuard(settings.max_login_failures, settings.lockout_minutes * 60),
        catalogs=Catalogs(settings.default_language),
        templates=make_templates(),
        quarantine=QuarantineDesk(engine, reverify),
        review=review or ReviewQueue(engine),
        links=links,
        fleet=FleetPages(engine, fleet_desk, enrolments) if fleet_desk is not None else None,
    )
    for module in (
        routes_auth, routes_pages, routes_quarantine, routes_review, fleet_routes, fleet_updates,
        routes_transparency, routes_analytics, routes_assessment, routes_risk,
    ):  # fmt: skip
        app.include_router(module.router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    _handle_errors(app)
    app.add_middleware(
        TrustedHostMiddleware,
        allowed_hosts=sorted({settings.host, "127.0.0.1", "localhost", *settings.allowed_hosts}),
    )
    app.add_middleware(SecurityHeaders, headers=SECURITY_HEADERS)
    return app


def _handle_errors(app: FastAPI) -> None:
    @app.exception_handler(NotLoggedInError)
    async def no_session(request: Request, _error: Exception) -> Response:
        target = "/login"
        if request.method == "GET" and request.url.path not in ("/", "/login"):
            target += "?next=" + request.url.path
        return RedirectResponse(target, status_code=303)

    @app.exception_handler(CsrfError)
    async def csrf_refused(request: Request, _error: Exception) -> Response:
        log_event(logger, logging.WARNING, "console.csrf_refused", path=request.url.path)
        return await run_in_threadpool(_error_page, request, "csrf", 403)

    @app.exception_handler(NotAllowedError)
    async def not_allowed(request: Request, _error: Exception) -> Response:
        log_event(logger, logging.WARNING, "console.not_allowed", path=request.url.path)
        return await run_in_threadpool(_error_page, request, "not_allowed", 403)

    @app.exception_handler(ReasonError)
    async def no_reason(request: Request, error: Exception) -> Response:
        return await run_in_threadpool(_error_page, request, "reason", 422, str(error))

    @app.exception_handler(QuarantineError)
    async def no_message(request: Request, error: Exception) -> Response:
        return await run_in_threadpool(_error_page, request, "not_found", 404, str(error))

    @app.exception_handler(ReviewError)
    async def review_refused(request: Request, error: Exception) -> Response:
        return await run_in_threadpool(_error_page, request, "conflict", 409, str(error))

    @app.exception_handler(FleetNotFoundError)
    async def no_box(request: Request, error: Exception) -> Response:
        return await run_in_threadpool(_error_page, request, "fleet_not_found", 404, str(error))

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        # Which fields, never what they held (a password, a reason).
        fields = ", ".join(
            ".".join(str(p) for p in item.get("loc", ()))[:100] for item in error.errors()[:10]
        )
        log_event(logger, logging.WARNING, "console.invalid", path=request.url.path, fields=fields)
        return await run_in_threadpool(_error_page, request, "invalid", 422, fields)


def _error_page(request: Request, code: str, status: int, detail: str = "") -> Response:
    """The error in the operator's language (the default one when nobody is logged in)."""
    console = console_of(request)
    session = console.sessions.get(request.cookies.get(COOKIE_NAME))
    operator = console.operators.get(session.login) if session else None
    who = Actor(operator, session) if operator is not None and session is not None else None
    context = {"code": code, "detail": detail}
    return render(request, "error.html", context, who=who, status_code=status)
