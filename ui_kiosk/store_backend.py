"""`StoreBackend`: the kiosk's backend over the core (store, lanes, matcher, decisions, officers).

Store work runs through `run` (the wiring hands in `EdgeService.in_store`, so lanes, the cache
and its in-memory index stay on the one store thread); alone, the backend keeps a thread of its
own. Hooks for the wiring:

- `notify_arrival_changed(arrival_id)`: call it after `Lanes.on_reading` (any thread), so the
  queue on every screen follows the devices;
- `add_decision_listener(callback)`: called with each `edge.decisions.Decision` (reopenings too)
  once it is stored, on the store thread (the outbox goes there);
- `classify_scan`: what a scanner typed, as a reading (default: `ui_kiosk.scans`, by shape);
- `devices` and `peers`: snapshots of device health and of the sync links.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from sqlalchemy import Connection, Engine

from edge.arrivals import Arrival, Lanes, observation_of
from edge.decisions import (
    Decision,
    DecisionConflictError,
    DecisionInvalidError,
    DecisionListener,
    DecisionRefusedError,
    Decisions,
    DecisionStore,
    ManualMatchStore,
    RecordKey,
    awaiting_decision,
    lane_minimum,
    needs_override,
)
from edge.logs import log_event
from edge.manifest import Manifest
from edge.matching import Matcher
from edge.officers import Officer, OfficerStore
from edge.readings import BarcodeRead, DocumentRead, Reading, SealRead, reading_from_dict
from edge.risk_profiles.facts import facts_of, truck_key
from edge.risk_profiles.inspection import (
    InspectionInvalidError,
    InspectionResult,
    record_result,
    results_for,
)
from edge.risk_profiles.store import ActiveProfiles, Selector
from edge.sync_status import SyncStatusSource
from edge.timeutil import utcnow
from ui_kiosk.arrival_views import (
    INSPECTED_KINDS,
    Assessed,
    arrival_detail,
    assess_match,
    inspection_view,
    plate_read,
    queue_entry,
)
from ui_kiosk.arrival_views import decision_view as _decision_view
from ui_kiosk.backend import ErrorCode, KioskError
from ui_kiosk.events import ChangeFeed, Subscription
from ui_kiosk.models import (
    ArrivalDetail,
    DecisionIn,
    DecisionView,
    DeviceHealthView,
    FleetStatusView,
    InspectionIn,
    InspectionView,
    PeerStatusView,
    QueueEntry,
    ReopenIn,
    ScanOutcome,
    SearchHit,
    ShiftReport,
    StuckMessageView,
    SyncStatusView,
)
from ui_kiosk.record_search import search_records
from ui_kiosk.scans import MAX_SCAN_CHARS, ScanClassifier, classify_scan
from ui_kiosk.sessions import Clock, SessionStore, StoreRunner
from ui_kiosk.shift_report import shift_report
from ui_kiosk.sync_snapshot import outbox_counts
from ui_kiosk.transparency import TransparencyView, transparency_view

logger = logging.getLogger(__name__)
T = TypeVar("T")


# Run in an inspection result's transaction, with the decision that sent the truck there.
InspectionHook = Callable[[Connection, InspectionResult, Decision], None]


class StoreBackend:
    def __init__(
        self,
        engine: Engine,
        lanes: Lanes,
        *,
        officers: OfficerStore | None = None,
        run: StoreRunner | None = None,
        lane_names: Sequence[str] = ("1",),
        classify_scan: ScanClassifier = classify_scan,
        devices: Callable[[], list[DeviceHealthView]] = list,
        peers: Callable[[], list[PeerStatusView]] | None = None,
        sync_source: SyncStatusSource | None = None,
    ) -> None:
        self.engine = engine
        self.lanes = lanes
        self.cache = lanes.matcher.cache
        self.officers = officers or OfficerStore(engine)
        self.decisions = Decisions(DecisionStore(engine), lanes)
        self.manual = ManualMatchStore(engine)
        self.feed = ChangeFeed()
        self._lane_names = list(lane_names)
        self.classify_scan = classify_scan
        self.devices = devices
        self.peers = peers  # None: sync is not configured
        self.sync_source = sync_source  # the outbox's figures, from the wiring
        # The box's fleet status, from the wiring (run on the store's thread); None: no fleet.
        self.fleet_source: Callable[[], FleetStatusView] | None = None
        self._own_thread: ThreadPoolExecutor | None = None
        self._run = run or self._run_on_own_thread
        # The centre's risk profiles and the random selection (edge.risk_profiles).
        self.selector = Selector(ActiveProfiles())
        # Run in an inspection result's own transaction (the wiring sends it to the centre).
        self.inspection_hooks: list[InspectionHook] = []

    # -- hooks for the wiring ------------------------------------------------------------------

    def notify_arrival_changed(self, arrival_id: int) -> None:
        self.feed.publish(arrival_id)

    def add_decision_listener(self, listener: DecisionListener) -> None:
        self.decisions.listeners.append(listener)

    def close(self) -> None:
        if self._own_thread is not None:
            self._own_thread.shutdown(wait=True)

    async def _run_on_own_thread(self, function: Callable[..., T], /, *args: Any) -> T:
        if self._own_thread is None:
            self._own_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="kiosk-store")
        return await asyncio.get_running_loop().run_in_executor(self._own_thread, function, *args)

    # -- officers (not on the store thread: Argon2 takes a while, and needs no lane) -----------

    async def login(self, login: str, pin: str) -> Officer | None:
        return await asyncio.to_thread(self.officers.verify, login, pin)

    async def officer_id_of(self, login: str) -> str | None:
        return await asyncio.to_thread(self._officer_id_of, login.strip())

    def _officer_id_of(self, login: str) -> str | None:
        officer = self.officers.get(login) or self.officers.by_badge(login)
        return officer.id if officer is not None else None

    async def officer(self, officer_id: str) -> Officer | None:
        return await asyncio.to_thread(self.officers.get, officer_id)

    def session_store(self, idle_timeout_seconds: float, clock: Clock) -> SessionStore:
        # Through the store thread, as all store work: sessions are rows like any other.
        return SessionStore(self.engine, idle_timeout_seconds, clock, run=self._run)

    async def set_language(self, officer_id: str, language: str) -> None:
        await asyncio.to_thread(self.officers.set_language, officer_id, language)

    # -- trucks --------------------------------------------------------------------------------

    async def lane_names(self) -> list[str]:
        return list(self._lane_names)

    async def queue(self) -> list[QueueEntry]:
        return await self._run(self._queue)

    async def arrival(self, arrival_id: int) -> ArrivalDetail | None:
        return await self._run(self._detail, arrival_id)

    async def open_arrival(self, officer: Officer, lane: str) -> int:
        _may_decide(officer)
        if lane not in self._lane_names:
            raise KioskError(ErrorCode.INVALID, f"lane: {lane!r} is not one of {self._lane_names}")
        arrival_id = await self._run(self.lanes.open, lane, "manual")
        log_event(logger, logging.INFO, "kiosk.arrival_opened", arrival=arrival_id, lane=lane,
                  officer=officer.id)  # fmt: skip
        self.feed.publish(arrival_id)
        return arrival_id

    async def scan(self, officer: Officer, arrival_id: int, text: str) -> ScanOutcome:
        _may_decide(officer)
        text = text.strip()
        if not text or len(text) > MAX_SCAN_CHARS or not text.replace("\n", "").isprintable():
            raise KioskError(ErrorCode.INVALID, f"scan: 1 to {MAX_SCAN_CHARS} printable characters")
        outcome = await self._run(self._scan, arrival_id, text)
        log_event(logger, logging.INFO, "kiosk.scan", arrival=arrival_id, kind=outcome.kind,
                  officer=officer.id)  # fmt: skip
        self.feed.publish(arrival_id)
        return outcome

    async def attach_record(self, officer: Officer, arrival_id: int, issuer: str, ref: str) -> None:
        _may_decide(officer)
        await self._run(self._attach, officer, arrival_id, RecordKey(issuer, ref))
        log_event(logger, logging.INFO, "kiosk.record_attached", arrival=arrival_id, ref=ref,
                  issuer=issuer, officer=officer.id)  # fmt: skip
        self.feed.publish(arrival_id)

    async def decide(self, officer: Officer, arrival_id: int, decision: DecisionIn) -> DecisionView:
        stored = await self._run(self._decide, officer, arrival_id, decision)
        self.feed.publish(arrival_id)
        return _decision_view(stored)

    async def record_inspection(
        self, officer: Officer, arrival_id: int, result: InspectionIn
    ) -> InspectionView:
        """What a documentary check or inspection of the truck found (its latest decision must
        be one). The note is never logged."""
        _may_decide(officer)
        stored = await self._run(self._record_inspection, officer, arrival_id, result)
        log_event(logger, logging.INFO, "kiosk.inspection_recorded", arrival=arrival_id,
                  result=stored.id, outcome=stored.outcome.value, officer=officer.id)  # fmt: skip
        self.feed.publish(arrival_id)
        return inspection_view(stored)

    async def reopen(self, officer: Officer, arrival_id: int, reopen: ReopenIn) -> DecisionView:
        try:
            stored = await self._run(
                self.decisions.reopen, officer, arrival_id, reopen.reason, reopen.note
            )
        except (DecisionRefusedError, DecisionConflictError, DecisionInvalidError) as error:
            raise _kiosk_error(error) from None
        self.feed.publish(arrival_id)
        return _decision_view(stored)

    async def search(self, query: str) -> list[SearchHit]:
        return await self._run(search_records, self.cache, query)

    def changes(self) -> Subscription:
        return self.feed.subscribe()

    # -- the corner and the report -------------------------------------------------------------

    async def device_health(self) -> list[DeviceHealthView]:
        return self.devices()

    async def fleet_status(self) -> FleetStatusView | None:
        if self.fleet_source is None:
            return None
        return await self._run(self.fleet_source)

    async def sync_status(self) -> SyncStatusView:
        counts = await self._run(outbox_counts, self.sync_source)
        return SyncStatusView(
            configured=self.peers is not None,
            peers=self.peers() if self.peers is not None else [],
            outbox_waiting=counts.waiting,
            outbox_unconfirmed=counts.unconfirmed,
            oldest_waiting_at=counts.oldest_waiting_at,
            quarantined=counts.quarantined,
            outbox_refused=counts.refused,
            stuck=[StuckMessageView.model_validate(m, from_attributes=True) for m in counts.stuck],
        )

    async def shift_report(self, since: dt.datetime, until: dt.datetime) -> ShiftReport:
        return await self._run(self._report, since, until)

    async def transparency(self) -> TransparencyView:
        return await self._run(transparency_view, self.engine)

    # -- on the store thread -------------------------------------------------------------------

    def _queue(self) -> list[QueueEntry]:
        ids = set(self.lanes.store.open_arrivals()) | set(self.decisions.store.reopened())
        latest = self.decisions.store.latest(ids)
        entries = []
        for arrival_id in sorted(ids):
            last = latest.get(arrival_id)
            if last is not None and last.kind.is_final:
                continue  # decided; its arrival is closing (or was closed by the decision)
            arrival = self.lanes.store.get(arrival_id)
            if arrival is None:
                continue
            status: Literal["open", "reopened"] = "reopened" if last is not None else "open"
            entries.append(queue_entry(arrival, self._assess(arrival), status))
        return sorted(entries, key=lambda e: e.opened_at)

    def _detail(self, arrival_id: int) -> ArrivalDetail | None:
        arrival = self.lanes.store.get(arrival_id)
        if arrival is None:
            return None
        history = self.decisions.store.for_arrival(arrival_id)
        assessed = self._assess(arrival)
        best = assessed.best
        record = self._record(RecordKey(best.issuer, best.ref)) if best is not None else None
        with self.engine.connect() as conn:
            inspections = results_for(conn, arrival_id)
        return arrival_detail(
            arrival,
            assessed,
            record,
            history,
            awaiting_decision(arrival, history),
            self.manual.latest(arrival_id),
            inspections,
        )

    def _assess(self, arrival: Arrival) -> Assessed:
        manual = self.manual.latest(arrival.id)
        rescored = self._rescore(arrival, manual.record) if manual is not None else None
        assessed = assess_match(arrival.match, rescored)
        best = assessed.best
        record = self._record(RecordKey(best.issuer, best.ref)) if best is not None else None
        facts = facts_of(record, [d.code for d in assessed.discrepancies])
        key = truck_key(record, plate_read(arrival))
        with self.engine.begin() as conn:
            chosen = self.selector.select(
                conn, arrival.id, arrival.opened_at, key, assessed.risk, facts, utcnow()
            )
        return assessed.selected(chosen)

    def _record_inspection(
        self, officer: Officer, arrival_id: int, result: InspectionIn
    ) -> InspectionResult:
        history = self.decisions.store.for_arrival(arrival_id)
        if not history or history[-1].kind not in INSPECTED_KINDS:
            raise KioskError(
                ErrorCode.INVALID, f"arrival {arrival_id}: not sent to a check or an inspection"
            )
        decision = history[-1]
        with self.engine.begin() as conn:
            try:
                stored = record_result(
                    conn, arrival_id=arrival_id, decision_id=decision.id, officer_id=officer.id,
                    findings=tuple(result.findings), note=result.note, now=utcnow(),
                )  # fmt: skip
            except InspectionInvalidError as error:
                raise KioskError(ErrorCode.INVALID, str(error)) from None
            for hook in self.inspection_hooks:
                hook(conn, stored, decision)
        return stored

    def _rescore(self, arrival: Arrival, key: RecordKey) -> dict[str, object] | None:
        """A record attached by hand, scored against what was read, with its discrepancies."""
        readings = [reading_from_dict(r.data) for r in arrival.readings]
        observation = observation_of(readings, arrival.opened_at)
        observation = dataclasses.replace(
            observation, references=(*observation.references, key.ref)
        )
        matcher = self.lanes.matcher
        settings = matcher.settings.model_copy(update={"min_score": 0.0, "max_candidates": 10**6})
        for candidate in Matcher(matcher.cache, settings).match(observation).candidates:
            if (candidate.issuer, candidate.ref) == (key.issuer, key.ref):
                return candidate.to_dict()
        return None  # the record is gone (purged)

    def _record(self, key: RecordKey) -> Manifest | None:
        for stored in self.cache.get(self.cache.ids_by_ref(key.ref)):
            if stored.record.issuer == key.issuer:
                return stored.record
        return None

    def _awaiting(self, arrival_id: int) -> Arrival:
        arrival = self.lanes.store.get(arrival_id)
        if arrival is None:
            raise KioskError(ErrorCode.NOT_FOUND, f"no arrival {arrival_id}")
        if not awaiting_decision(arrival, self.decisions.store.for_arrival(arrival_id)):
            raise KioskError(ErrorCode.NOT_AWAITING, f"arrival {arrival_id} is decided")
        return arrival

    def _scan(self, arrival_id: int, text: str) -> ScanOutcome:
        arrival = self._awaiting(arrival_id)
        reading = self.classify_scan(text, utcnow())
        if arrival.is_open and self.lanes.store.open_for_lane(arrival.lane) == arrival_id:
            self.lanes.on_reading(arrival.lane, reading)
        else:  # reopened after its decision: no longer the lane's truck, still this one
            self.lanes.store.add_reading(arrival_id, reading)
            self.lanes.rematch(arrival_id)
        return _outcome(arrival_id, reading)

    def _attach(self, officer: Officer, arrival_id: int, key: RecordKey) -> None:
        self._awaiting(arrival_id)
        if self._record(key) is None:
            raise KioskError(ErrorCode.NOT_FOUND, f"no record {key.issuer} {key.ref}")
        self.manual.attach(arrival_id, officer.id, key, utcnow())

    def _decide(self, officer: Officer, arrival_id: int, decision: DecisionIn) -> Decision:
        detail = self._detail(arrival_id)
        if detail is None:
            raise KioskError(ErrorCode.NOT_FOUND, f"no arrival {arrival_id}")
        lane = detail.entry.risk.lane
        best = detail.entry.best
        record = RecordKey(best.issuer, best.ref) if best is not None else None
        try:
            return self.decisions.decide(
                officer, arrival_id, decision.kind, decision.reason, decision.note, record, lane
            )
        except (DecisionRefusedError, DecisionConflictError, DecisionInvalidError) as error:
            overriding = officer.role.decides and needs_override(decision.kind, lane)
            if isinstance(error, DecisionRefusedError) and overriding:
                minimum = lane_minimum(lane).value
                raise KioskError(ErrorCode.NEEDS_SUPERVISOR, minimum) from None
            raise _kiosk_error(error) from None

    def _report(self, since: dt.datetime, until: dt.datetime) -> ShiftReport:
        rows = self.decisions.store.between(since, until)
        opened = {}
        for arrival_id in {d.arrival_id for d in rows}:
            arrival = self.lanes.store.get(arrival_id)
            if arrival is not None:
                opened[arrival_id] = arrival.opened_at
        return shift_report(rows, opened, since, until)


def _may_decide(officer: Officer) -> None:
    if not (officer.active and officer.role.decides):
        raise KioskError(ErrorCode.NOT_ALLOWED, f"{officer.role.value} may not act on trucks")


def _kiosk_error(error: Exception) -> KioskError:
    if isinstance(error, DecisionRefusedError):
        return KioskError(ErrorCode.NOT_ALLOWED, str(error))
    if isinstance(error, DecisionConflictError):
        return KioskError(ErrorCode.NOT_AWAITING, str(error))
    return KioskError(ErrorCode.INVALID, str(error))


def _outcome(arrival_id: int, reading: Reading) -> ScanOutcome:
    if isinstance(reading, DocumentRead):
        return ScanOutcome(
            arrival_id=arrival_id, kind="document", value=reading.document_number or ""
        )
    if isinstance(reading, SealRead):
        return ScanOutcome(arrival_id=arrival_id, kind="seal", value=reading.seal_id)
    if isinstance(reading, BarcodeRead):
        payload = reading.payload
        if payload.get("seals"):
            return ScanOutcome(arrival_id=arrival_id, kind="seal", value=str(payload["seals"][0]))
        for field in ("mrn", "tir_carnet", "cmr"):
            if payload.get(field):
                return ScanOutcome(
                    arrival_id=arrival_id, kind="reference", value=str(payload[field])
                )
        if payload.get("containers"):
            value = str(payload["containers"][0])
            return ScanOutcome(arrival_id=arrival_id, kind="container", value=value)
        return ScanOutcome(arrival_id=arrival_id, kind="code", value=reading.text)
    return ScanOutcome(arrival_id=arrival_id, kind="code", value="")
