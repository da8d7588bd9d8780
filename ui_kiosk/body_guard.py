"""What a request may carry before the kiosk reads it: a session first (only the login form is
posted without one), then a body of at most `MAX_BODY_BYTES`, counted as it streams in (a
missing or false Content-Length does not help), and JSON that the strict reader accepts
(`edge.json_input`: no duplicate keys, NaN or deep nesting). Whatever the input's size, the
kiosk holds at most the cap in memory, and refuses the rest unread.
"""

from __future__ import annotations

import email.message
import logging

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from edge.json_input import JsonInputError, parse_json
from edge.logs import log_event
from ui_kiosk.sessions import COOKIE_NAME, SessionStore

logger = logging.getLogger(__name__)

# Every form and JSON body of the kiosk is far below this (a note is 1,000 characters).
MAX_BODY_BYTES = 64 * 1024
NO_SESSION_NEEDED = frozenset({"/login"})
_BODYLESS = frozenset({"GET", "HEAD", "OPTIONS"})


def is_json_media_type(content_type: str) -> bool:
    """Whether FastAPI will parse a body of this type as JSON: the same test as its own
    (`fastapi.routing`): main type application, subtype json or *+json, any case, any
    parameters. Without a type it parses none (strict content type, its default)."""
    if not content_type:
        return False
    message = email.message.Message()
    message["content-type"] = content_type
    if message.get_content_maintype() != "application":
        return False
    subtype = message.get_content_subtype()
    return subtype == "json" or subtype.endswith("+json")


def wants_json(path: str) -> bool:
    return path.startswith(("/api/", "/events", "/openapi.json"))


def not_logged_in(request: Request) -> Response:
    """Pages go to the login, htmx is told to, the API answers 401."""
    if wants_json(request.url.path):
        return JSONResponse({"error": "not_logged_in", "detail": "log in"}, status_code=401)
    if request.headers.get("HX-Request"):
        return Response(status_code=401, headers={"HX-Redirect": "/login"})
    target = "/login"
    if request.method == "GET" and request.url.path not in ("/", "/login"):
        target += f"?next={request.url.path}"
    return RedirectResponse(target, status_code=303)


class BodyGuard:
    def __init__(
        self, app: ASGIApp, sessions: SessionStore, max_bytes: int = MAX_BODY_BYTES
    ) -> None:
        self.app = app
        self.sessions = sessions
        self.max_bytes = max_bytes
        self.refused = 0  # requests refused here, for every reason

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] in _BODYLESS:
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        path = request.url.path
        if path not in NO_SESSION_NEEDED:
            session = await self.sessions.get(request.cookies.get(COOKIE_NAME), touch=False)
            if session is None:
                await self._refuse(request, "no_session", not_logged_in(request), scope, send)
                return
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(request, "too_large", self._too_large(path), scope, send)
            return
        body = await self._read(receive)
        if body is None:
            await self._refuse(request, "too_large", self._too_large(path), scope, send)
            return
        if is_json_media_type(request.headers.get("content-type", "")):
            try:
                parse_json(body, f"{request.method} {path}: the body")
            except JsonInputError as error:
                answer = JSONResponse({"error": "invalid", "detail": str(error)}, 422)
                await self._refuse(request, "bad_json", answer, scope, send)
                return
        await self.app(scope, _replay(body, receive), send)

    async def _read(self, receive: Receive) -> bytes | None:
        """The whole body, or None as soon as it passes the cap (the rest is never read)."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break  # the client went away: what came is all there is
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    def _too_large(self, path: str) -> Response:
        detail = f"a request body is at most {self.max_bytes} bytes"
        if wants_json(path):
            return JSONResponse({"error": "too_large", "detail": detail}, status_code=413)
        return Response(detail, status_code=413, media_type="text/plain")

    async def _refuse(
        self, request: Request, reason: str, answer: Response, scope: Scope, send: Send
    ) -> None:
        self.refused += 1
        log_event(logger, logging.WARNING, "kiosk.request_refused", path=request.url.path,
                  reason=reason, refused=self.refused)  # fmt: skip
        answer.headers["Connection"] = "close"  # the unread rest of the body goes with it

        async def nothing() -> Message:
            return {"type": "http.disconnect"}

        await answer(scope, nothing, send)


def _replay(body: bytes, receive: Receive) -> Receive:
    sent = False

    async def replayed() -> Message:
        nonlocal sent
        if sent:
            return await receive()
        sent = True
        return {"type": "http.request", "body": body, "more_body": False}

    return replayed
