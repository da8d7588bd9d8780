"""`GET /events`: arrival changes as server-sent events, while the session lasts."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import StreamingResponse

from ui_kiosk.events import server_sent_events
from ui_kiosk.sessions import COOKIE_NAME
from ui_kiosk.web import QuietWho, kiosk_of

router = APIRouter(include_in_schema=False)


@router.get("/events")
async def arrival_events(request: Request, who: QuietWho) -> StreamingResponse:
    kiosk = kiosk_of(request)
    cookie = request.cookies.get(COOKIE_NAME)

    async def still_valid() -> bool:
        return await kiosk.sessions.get(cookie, touch=False) is not None

    stream = server_sent_events(
        kiosk.backend.changes(), still_valid, kiosk.settings.heartbeat_seconds
    )
    return StreamingResponse(
        stream,
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
