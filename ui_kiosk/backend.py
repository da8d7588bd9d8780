"""The one object the kiosk talks to: `KioskBackend`. The wiring hands it to `create_app`.

`ui_kiosk.store_backend.StoreBackend` implements it over the core (store, lanes, matcher,
decisions, officers); tests may hand in their own. Every method that changes something takes the
officer doing it, and checks on its own that the officer may (the web layer checks too).
Failures the officer should read about are `KioskError`s with a stable code.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from enum import StrEnum
from typing import Protocol

from edge.officers import Officer
from ui_kiosk.models import (
    ArrivalDetail,
    DecisionIn,
    DecisionView,
    DeviceHealthView,
    FleetStatusView,
    InspectionIn,
    InspectionView,
    QueueEntry,
    ReopenIn,
    ScanOutcome,
    SearchHit,
    ShiftReport,
    SyncStatusView,
)
from ui_kiosk.sessions import Clock, SessionStore
from ui_kiosk.transparency import TransparencyView


class ErrorCode(StrEnum):
    NOT_ALLOWED = "not_allowed"  # the officer's role may not do this
    NEEDS_SUPERVISOR = "needs_supervisor"  # below the lane's minimum: a supervisor's override
    NOT_FOUND = "not_found"  # no such truck or record
    NOT_AWAITING = "not_awaiting"  # the truck is decided (or awaits a decision: reopen)
    INVALID = "invalid"  # the input does not fit: a reason for another decision, a bad scan

    @property
    def status(self) -> int:
        return _STATUS[self]


_STATUS = {
    ErrorCode.NOT_ALLOWED: 403,
    ErrorCode.NEEDS_SUPERVISOR: 403,
    ErrorCode.NOT_FOUND: 404,
    ErrorCode.NOT_AWAITING: 409,
    ErrorCode.INVALID: 422,
}


class KioskError(Exception):
    def __init__(self, code: ErrorCode, detail: str) -> None:
        super().__init__(f"{code}: {detail}")
        self.code = code
        self.detail = detail  # in English, for the log and the JSON API


class KioskBackend(Protocol):
    # -- officers ------------------------------------------------------------------------------
    async def login(self, login: str, pin: str) -> Officer | None:
        """The officer whose id or badge is `login`, if `pin` is theirs and they are active."""

    async def officer_id_of(self, login: str) -> str | None:
        """The id of the officer whose id or badge is `login` (active or not), else None."""

    async def officer(self, officer_id: str) -> Officer | None: ...

    def session_store(self, idle_timeout_seconds: float, clock: Clock) -> SessionStore:
        """Where the officers' sessions live: the store, so that they outlive a restart."""

    async def set_language(self, officer_id: str, language: str) -> None: ...

    # -- trucks --------------------------------------------------------------------------------
    async def lane_names(self) -> list[str]:
        """The post's lanes, for opening a truck by hand."""

    async def queue(self) -> list[QueueEntry]:
        """The trucks awaiting a decision, oldest first."""

    async def arrival(self, arrival_id: int) -> ArrivalDetail | None: ...

    async def open_arrival(self, officer: Officer, lane: str) -> int:
        """Open a truck at `lane` by hand (one open there is superseded); its id."""

    async def scan(self, officer: Officer, arrival_id: int, text: str) -> ScanOutcome:
        """What a scanner typed into the truck's page: a passport's MRZ, a seal, a document."""

    async def attach_record(self, officer: Officer, arrival_id: int, issuer: str, ref: str) -> None:
        """Attach a pre-arrival record to the truck by hand (recorded with officer and time)."""

    async def decide(self, officer: Officer, arrival_id: int, decision: DecisionIn) -> DecisionView:
        """Store the decision durably, close the truck; raises KioskError when refused."""

    async def record_inspection(
        self, officer: Officer, arrival_id: int, result: InspectionIn
    ) -> InspectionView:
        """What a check or inspection found; raises KioskError when the truck was not sent to
        one."""

    async def reopen(self, officer: Officer, arrival_id: int, reopen: ReopenIn) -> DecisionView:
        """A supervisor takes a decided truck back; it awaits a decision again."""

    async def search(self, query: str) -> list[SearchHit]:
        """Pre-arrival records by plate, reference (ref, TIR carnet, CMR), seal or document."""

    # -- the corner and the report -------------------------------------------------------------
    async def device_health(self) -> list[DeviceHealthView]: ...

    async def sync_status(self) -> SyncStatusView: ...

    async def fleet_status(self) -> FleetStatusView | None:
        """The box's enrolment, twin and commands, for the technician; None: not managed."""

    async def shift_report(self, since: dt.datetime, until: dt.datetime) -> ShiftReport: ...

    async def transparency(self) -> TransparencyView:
        """The box's transparency log and its alerts, for the technician."""

    def changes(self) -> AsyncIterator[int]:
        """The ids of arrivals as they change (a reading, a decision), for as long as iterated."""
