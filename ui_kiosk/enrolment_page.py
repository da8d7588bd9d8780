"""The kiosk's screen while the box is not enrolled yet: its node id, serial, the enrolment code
in large letters and as a QR code, and what the centre said so far. The fleet operator approves
the box whose screen shows the code the console shows.

The wiring (`carec-edge fleet enrol --kiosk`) serves it on the kiosk's address while it waits
for the operator, and hands it what to show (`EnrolmentScreen`, the QR code already drawn as
SVG); the page reloads itself every few seconds, with no script.
"""

from __future__ import annotations

import html
from collections.abc import Callable
from dataclasses import dataclass

from fastapi import FastAPI
from fastapi.responses import HTMLResponse, PlainTextResponse, Response

from edge.web_pieces import SecurityHeaders

REFRESH_S = 5
STATES = {
    "starting": ("Preparing the request", "Подготовка запроса"),
    "pending": ("Waiting for the fleet operator", "Ожидание оператора парка"),
    "unreachable": ("The centre cannot be reached; trying again", "Центр недоступен; повтор"),
    "enrolled": ("Enrolled: starting", "Зарегистрирован: запуск"),
    "refused": ("Refused by the fleet operator", "Отклонено оператором парка"),
    "revoked": ("Revoked by the fleet operator", "Отозвано оператором парка"),
}
_HEADERS = [
    (b"content-security-policy",
     b"default-src 'none'; style-src 'self'; img-src 'self'; frame-ancestors 'none'"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
    (b"cache-control", b"no-store"),
]  # fmt: skip
_CSS = """body{font-family:sans-serif;background:#fff;color:#111;text-align:center;margin:2em}
.code{font-family:monospace;font-size:4em;letter-spacing:.1em;margin:.3em 0}
.qr svg{width:16em;height:16em}.state{font-size:1.6em}.who{color:#444;font-size:1.2em}
.reason{color:#a00;font-size:1.2em}"""


@dataclass(frozen=True)
class EnrolmentScreen:
    node_id: str
    serial: str
    code: str
    qr_svg: str  # the QR code of the code, as an <svg> element (trusted: drawn by segno)
    state: str  # a key of STATES
    reason: str | None = None  # the operator's, for a refused box


def create_enrolment_page(screen: Callable[[], EnrolmentScreen]) -> FastAPI:
    app = FastAPI(docs_url=None, redoc_url=None, openapi_url=None)
    app.add_middleware(SecurityHeaders, headers=_HEADERS)

    @app.get("/", response_class=HTMLResponse)
    def page() -> Response:
        return HTMLResponse(render(screen()))

    @app.get("/enrolment.css")
    def css() -> Response:
        return PlainTextResponse(_CSS, media_type="text/css")

    return app


def render(screen: EnrolmentScreen) -> str:
    english, russian = STATES.get(screen.state, (screen.state, screen.state))
    reason = (
        f'<p class="reason" id="reason">{html.escape(screen.reason)}</p>' if screen.reason else ""
    )
    refresh = "" if screen.state in ("refused", "revoked") else (
        f'<meta http-equiv="refresh" content="{REFRESH_S}">'
    )  # fmt: skip
    return (
        '<!doctype html><html lang="en"><head><meta charset="utf-8">'
        f"<title>carec-edge: enrolment</title>{refresh}"
        '<link rel="stylesheet" href="/enrolment.css"></head><body>'
        "<h1>Enrolment code · Код регистрации</h1>"
        f'<p class="code" id="code">{html.escape(screen.code)}</p>'
        f'<div class="qr" id="qr">{screen.qr_svg}</div>'
        f'<p class="who" id="who">{html.escape(screen.node_id)} · serial '
        f"{html.escape(screen.serial)}</p>"
        f'<p class="state" id="state">{html.escape(english)} · {html.escape(russian)}</p>'
        f"{reason}</body></html>"
    )
