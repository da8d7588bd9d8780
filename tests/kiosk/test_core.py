"""The core parts under the kiosk: risk lanes, decisions as evidence, officers, scans, names."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select

from edge.arrivals import ArrivalStore, Lanes
from edge.decisions import (
    DecisionConflictError,
    DecisionInvalidError,
    DecisionKind,
    DecisionRefusedError,
    Decisions,
    DecisionStore,
    ReasonCode,
    needs_override,
)
from edge.discrepancies import DiscrepancyCode as Code
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import Officer, OfficerError, OfficerStore, Role, seed_demo_officers
from edge.readings import BarcodeRead, DocumentRead
from edge.risk import RiskLane, assess
from edge.store.schema import decisions
from ui_kiosk.scans import classify_scan
from ui_kiosk.shift_report import shift_report
from ui_kiosk.translit import name_latin, plate_latin

T0 = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)
IVAN = Officer("ivan", "Ivan", None, Role.OFFICER, "en")
SARA = Officer("sara", "Sara", None, Role.SUPERVISOR, "en")
TECH = Officer("tech", "Tech", None, Role.TECHNICIAN, "en")


@pytest.mark.parametrize(
    ("score", "codes", "ambiguous", "manual", "lane"),
    [
        (0.95, [], False, False, RiskLane.GREEN),
        (0.79, [], False, False, RiskLane.YELLOW),
        (0.95, [], True, False, RiskLane.YELLOW),
        (0.95, [], False, True, RiskLane.YELLOW),
        (0.95, [Code.PLATE_APPROXIMATE], False, False, RiskLane.YELLOW),
        (0.95, [Code.OUTSIDE_ARRIVAL_WINDOW], False, False, RiskLane.YELLOW),
        (None, [Code.NO_PRE_ARRIVAL], False, False, RiskLane.RED),
        (None, [], False, False, RiskLane.RED),
        (0.95, [Code.SEAL_MISSING], False, False, RiskLane.RED),
        (0.95, [Code.SEAL_UNEXPECTED, Code.PLATE_APPROXIMATE], False, False, RiskLane.RED),
        (0.95, [Code.DRIVER_DOCUMENT_MISMATCH], False, False, RiskLane.RED),
        (0.95, [Code.TRANSIT_DOCUMENT_MISMATCH], False, False, RiskLane.RED),
        (0.95, [Code.TRAILER_MISMATCH], False, False, RiskLane.RED),
    ],
)
def test_risk_lanes(
    score: float | None, codes: list[Code], ambiguous: bool, manual: bool, lane: RiskLane
) -> None:
    assessment = assess(score, codes, ambiguous=ambiguous, manual=manual)
    assert assessment.lane is lane
    assert (assessment.reasons == ()) is (lane is RiskLane.GREEN)
    assert assessment.reasons == tuple(sorted(assessment.reasons, key=lambda r: -r.lane.severity))


@pytest.mark.parametrize(
    ("kind", "lane", "override"),
    [
        (DecisionKind.RELEASE, RiskLane.GREEN, False),
        (DecisionKind.RELEASE, RiskLane.YELLOW, True),
        (DecisionKind.DOCUMENTARY_CHECK, RiskLane.YELLOW, False),
        (DecisionKind.DOCUMENTARY_CHECK, RiskLane.RED, True),
        (DecisionKind.PHYSICAL_INSPECTION, RiskLane.RED, False),
        (DecisionKind.REFUSE, RiskLane.RED, False),
    ],
)
def test_the_lane_sets_the_least_strict_decision(
    kind: DecisionKind, lane: RiskLane, override: bool
) -> None:
    assert needs_override(kind, lane) is override


@pytest.fixture
def decided(engine: Engine, cache: ManifestCache) -> tuple[Decisions, int]:
    lanes = Lanes(ArrivalStore(engine), Matcher(cache), dt.timedelta(minutes=30))
    officers = OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    for o in (IVAN, SARA, TECH):
        officers.create(o.id, o.name, "1234", o.role)
    return Decisions(DecisionStore(engine), lanes), lanes.open("1", at=T0)


def test_decisions_are_only_ever_added(decided: tuple[Decisions, int]) -> None:
    decisions_, arrival_id = decided
    r = ReasonCode
    decisions_.decide(IVAN, arrival_id, DecisionKind.RELEASE, r.DOCUMENTS_IN_ORDER, None, None,
                      RiskLane.GREEN)  # fmt: skip
    with pytest.raises(DecisionConflictError):
        decisions_.decide(IVAN, arrival_id, DecisionKind.REFUSE, r.PROHIBITED_GOODS, None, None,
                          RiskLane.GREEN)  # fmt: skip
    with pytest.raises(DecisionRefusedError):
        decisions_.reopen(IVAN, arrival_id, r.DECISION_ERROR, None)
    decisions_.reopen(SARA, arrival_id, r.DECISION_ERROR, "wrong truck")
    decisions_.decide(IVAN, arrival_id, DecisionKind.REFUSE, r.PROHIBITED_GOODS, None, None,
                      RiskLane.GREEN)  # fmt: skip
    history = decisions_.store.for_arrival(arrival_id)
    assert [d.kind for d in history] == [
        DecisionKind.RELEASE, DecisionKind.REOPEN, DecisionKind.REFUSE,
    ]  # fmt: skip
    with decisions_.store.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(decisions)).scalar() == 3


def test_a_technician_never_decides_and_reasons_must_fit(decided: tuple[Decisions, int]) -> None:
    decisions_, arrival_id = decided
    with pytest.raises(DecisionRefusedError):
        decisions_.decide(TECH, arrival_id, DecisionKind.RELEASE, ReasonCode.DOCUMENTS_IN_ORDER,
                          None, None, RiskLane.GREEN)  # fmt: skip
    with pytest.raises(DecisionInvalidError, match="reason"):
        decisions_.decide(IVAN, arrival_id, DecisionKind.RELEASE, ReasonCode.SEAL_PROBLEM,
                          None, None, RiskLane.GREEN)  # fmt: skip
    with pytest.raises(DecisionInvalidError, match="note"):
        decisions_.decide(IVAN, arrival_id, DecisionKind.RELEASE, ReasonCode.DOCUMENTS_IN_ORDER,
                          "x" * 1001, None, RiskLane.GREEN)  # fmt: skip
    assert decisions_.store.for_arrival(arrival_id) == []


def test_a_failing_listener_does_not_undo_a_decision(decided: tuple[Decisions, int]) -> None:
    decisions_, arrival_id = decided

    def broken(_decision: object) -> None:
        raise RuntimeError("outbox down")

    decisions_.listeners.append(broken)
    decisions_.decide(IVAN, arrival_id, DecisionKind.RELEASE, ReasonCode.DOCUMENTS_IN_ORDER,
                      None, None, RiskLane.GREEN)  # fmt: skip
    assert len(decisions_.store.for_arrival(arrival_id)) == 1


def test_officers_log_in_by_id_or_badge_and_are_checked(engine: Engine) -> None:
    store = OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    store.create("a1", "Айгерим", "4321", Role.OFFICER, badge="BADGE-7", language="kk")
    assert store.verify("a1", "4321") == store.verify("BADGE-7", "4321") == store.get("a1")
    assert store.verify("a1", "1111") is None
    assert store.verify("BADGE-7 ", "4321") is not None  # a scanner's trailing space
    with pytest.raises(OfficerError, match="pin"):
        store.create("a2", "B", "12", Role.OFFICER)
    with pytest.raises(OfficerError, match="taken"):
        store.create("a1", "C", "1234", Role.OFFICER)
    with pytest.raises(OfficerError, match="id"):
        store.create("a b", "C", "1234", Role.OFFICER)
    store.set_active("a1", False)
    assert store.verify("a1", "4321") is None


def test_the_demo_officers_are_seeded_once(engine: Engine) -> None:
    store = OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    assert [o.id for o in seed_demo_officers(store)] == [
        "demo", "demo-supervisor", "demo-technician",
    ]  # fmt: skip
    assert seed_demo_officers(store) == []
    assert store.verify("BADGE-0001", "1234") is not None


@pytest.mark.parametrize(
    ("text", "kind", "field", "value"),
    [
        ("KZC1234567", "seal", "seals", ["KZC1234567"]),
        ("0A1F-0012D687", "seal", "seals", ["0A1F-0012D687"]),
        ("XA81234567", "tir_carnet", "tir_carnet", "XA81234567"),
        ("26KZ00010000000123", "mrn", "mrn", "26KZ00010000000123"),
        ("MSCU1234565", "container", "containers", ["MSCU1234565"]),
        ("CMR: KZ-2026-000812", "cmr", "cmr", "KZ-2026-000812"),
        ("SEAL:XA81234567", "seal", "seals", ["XA81234567"]),
    ],
)
def test_scans_are_classified_by_shape(text: str, kind: str, field: str, value: object) -> None:
    reading = classify_scan(text, T0)
    assert isinstance(reading, BarcodeRead)
    assert reading.payload["kind"] == kind
    assert reading.payload[field] == value


@pytest.mark.parametrize(
    ("mrz", "number"),
    [
        (
            "P<KAZIVANOV<<IVAN<<<<<<<<<<<<<<<<<<<<<<<<<<<\n"
            "N12345678<KAZ8004125M3012319<<<<<<<<<<<<<<02",
            "N12345678",
        ),
        (  # TD1, typed without line breaks
            "I<KGZAB1234567<<<<<<<<<<<<<<<<"
            "8004125M3012319KGZ<<<<<<<<<<<0"
            "ASANOV<<BAKYT<<<<<<<<<<<<<<<<<",
            "AB1234567",
        ),
    ],
)
def test_an_mrz_scan_is_a_document_with_its_number(mrz: str, number: str) -> None:
    reading = classify_scan(mrz, T0)
    assert isinstance(reading, DocumentRead)
    assert reading.document_number == number
    assert (reading.valid, reading.failed_checks) == (False, ("not_verified",))


def test_latin_beside_cyrillic_and_chinese() -> None:
    assert plate_latin("А 777 ВС 02") == "A 777 BC 02"
    assert plate_latin("新A·12345") == "Xin A·12345"
    assert plate_latin("777 ABC 02") is None
    assert name_latin("Жанна Щукина") == "Zhanna Shchukina"
    assert name_latin("ӨЛЗИЙ БАТБАЯР") == "OLZII BATBAIAR"
    assert name_latin("IVANOV IVAN") is None
    assert name_latin("王小明") == "WANG Xiaoming"  # as a Chinese passport writes it
    assert name_latin("吕德华") == "LYU Dehua"


def test_the_shift_report_times_trucks_from_arrival_to_first_decision(
    decided: tuple[Decisions, int],
) -> None:
    decisions_, arrival_id = decided
    r = ReasonCode
    at = T0 + dt.timedelta(minutes=12)
    decisions_.decide(IVAN, arrival_id, DecisionKind.RELEASE, r.DOCUMENTS_IN_ORDER, None, None,
                      RiskLane.GREEN, at)  # fmt: skip
    decisions_.reopen(SARA, arrival_id, r.NEW_INFORMATION, None, at + dt.timedelta(minutes=1))
    rows = decisions_.store.between(T0, T0 + dt.timedelta(hours=1))
    report = shift_report(rows, {arrival_id: T0}, T0, T0 + dt.timedelta(hours=1))
    assert (report.handled, report.reopened) == (0, 1)
    decisions_.decide(SARA, arrival_id, DecisionKind.PHYSICAL_INSPECTION, r.RISK_INDICATOR,
                      None, None, RiskLane.RED, at + dt.timedelta(minutes=5))  # fmt: skip
    rows = decisions_.store.between(T0, T0 + dt.timedelta(hours=1))
    report = shift_report(rows, {arrival_id: T0}, T0, T0 + dt.timedelta(hours=1))
    assert (report.handled, report.reopened, report.minutes_to_decision_median) == (1, 0, 12.0)
    assert [(c.risk_lane, c.decision) for c in report.cells] == [
        (RiskLane.RED, DecisionKind.PHYSICAL_INSPECTION)
    ]
