"""`GET /api/sync/stuck`: the messages the broker refused and has not taken since, each with
the broker's reason and its next try, for the technician (and the supervisor) who must see
what is not leaving the box."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Request

from edge.officers import Role
from ui_kiosk.models import StuckMessageView
from ui_kiosk.web import Actor, kiosk_of, require

router = APIRouter(prefix="/api", tags=["kiosk"])
Technician = Annotated[Actor, Depends(require(Role.TECHNICIAN, Role.SUPERVISOR))]


@router.get("/sync/stuck", response_model=list[StuckMessageView])
async def stuck(request: Request, who: Technician) -> list[StuckMessageView]:
    return (await kiosk_of(request).backend.sync_status()).stuck
