"""The whole story of a risk profile, on real stores at both ends: the centre issues a set, its
signed parts reach the box's inbox and become the active set, the kiosk shows the officer the
profile that selected the truck, the officer records what the check found, and the result's
signed message reaches the centre's inbox, where the profile's hit rate moves."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from centre.risk_profiles.desk import RiskProfileDesk, parse_draft
from centre.risk_profiles.results import hit_rates
from centre.store.schema import risk_inspection_results
from edge.arrivals import ArrivalStore, Lanes
from edge.decisions import Decision, DecisionKind, ReasonCode
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import OfficerStore, Role
from edge.readings import PlateCandidate, PlateReading
from edge.risk import RiskLane
from edge.risk_profiles.inspection import Finding, record_result
from edge.service.inspections import InspectionDispatch
from edge.store.schema import outbox, outbox_envelopes
from edge.timeutil import utcnow
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Incoming, Outcome
from sync.outbox import Outbox
from sync.risk_profiles import risk_profiles_applier
from sync.setup import key_lookup
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, NURZHOLY, ROUTING, Centre
from tests.centre.console_helpers import centre_inbox
from tests.centre.test_risk_profiles_centre import DRAFT
from tests.fixtures.records import record
from tests.kiosk.conftest import FakeClock, csrf_of
from ui_kiosk import KioskSettings, create_app
from ui_kiosk.store_backend import StoreBackend


def queued(engine: Engine, destination: str, kind: str) -> list[Incoming]:
    """What an outbox holds for `destination` of message type `kind`, as a broker delivers it."""
    query = (
        select(outbox.c.topic, outbox_envelopes.c.envelope)
        .join(outbox_envelopes, outbox_envelopes.c.id == outbox.c.id)
        .where(outbox.c.destination == destination, outbox.c.type == kind)
        .order_by(outbox.c.stream, outbox.c.seq)
    )
    with engine.connect() as conn:
        return [Incoming("broker", r.topic, bytes(r.envelope)) for r in conn.execute(query)]


def test_a_profile_from_the_centre_selects_a_truck_and_its_finding_moves_the_hit_rate(
    centre: Centre, tmp_path: Path
) -> None:
    # the centre issues version 1 to the country's boxes
    desk = RiskProfileDesk(
        centre.engine, centre.outbox, "KZ", lambda: [n for v in ROUTING.values() for n in v]
    )
    with centre.engine.begin() as conn:
        issued = desk.issue(conn, parse_draft(DRAFT), "olga", "form:json", utcnow())
    assert NURZHOLY in issued.boxes

    # the box's inbox takes it from its centre
    box = Box(centre.fleet, NURZHOLY, tmp_path / "box")
    keys = key_lookup(TrustStore.load(centre.fleet.trust_store))
    appliers = {"risk_profiles": risk_profiles_applier(NURZHOLY, CENTRE)}
    inbox = Inbox(box.engine, NURZHOLY, keys, appliers)
    results = inbox.receive(queued(centre.engine, NURZHOLY, "risk_profiles"))
    assert [r.outcome for r in results] == [Outcome.APPLIED]

    # a truck of the record arrives; the kiosk names the profile
    cache = ManifestCache(box.engine)
    cache.upsert([parse_manifest(record(ref="T1"))])
    lanes = Lanes(ArrivalStore(box.engine), Matcher(cache), idle_timeout=dt.timedelta(minutes=30))
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    officers = OfficerStore(box.engine, hasher)
    officers.create("ivan", "Ivan Petrov", "1111", Role.OFFICER)
    backend = StoreBackend(box.engine, lanes, officers=officers)
    backend.inspection_hooks.append(InspectionDispatch(box.outbox, NURZHOLY, CENTRE).hook)
    seen = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)
    reading = PlateReading("cam-1", seen, (PlateCandidate("777ABC02", 0.95, "tractor"),))
    arrival_id = lanes.on_reading("1", reading)
    assert arrival_id is not None
    app = create_app(backend, KioskSettings(idle_timeout_minutes=10), clock=FakeClock())
    with TestClient(app, base_url="http://127.0.0.1") as client:
        csrf = csrf_of(client.post("/login", data={"login": "ivan", "pin": "1111"}).text)
        page = client.get(f"/arrivals/{arrival_id}").text
        assert 'data-lane="yellow"' in page
        assert "Risk profile auto-parts-kg (version 4): UNDERVALUATION" in page
        decided = client.post(
            f"/arrivals/{arrival_id}/decide",
            data={"kind": "documentary_check", "reason": "LANE_REQUIRES_CHECK",
                  "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert decided.status_code == 303, decided.text
        recorded = client.post(
            f"/arrivals/{arrival_id}/inspection",
            data={"findings": ["UNDECLARED_GOODS"], "note": "3 pallets of phones",
                  "csrf_token": csrf},
            follow_redirects=False,
        )  # fmt: skip
        assert recorded.status_code == 303, recorded.text
    backend.close()

    # the result's signed message reaches the centre, and the hit rate moves
    assert hit_rates(centre.engine) == ([], [])
    sent = queued(box.engine, CENTRE, "inspection_result")
    assert len(sent) == 1
    assert [r.outcome for r in centre_inbox(centre).receive(sent)] == [Outcome.APPLIED]
    profiles, random = hit_rates(centre.engine)
    assert [(h.name, h.version, h.checked, h.found) for h in profiles] == [
        ("auto-parts-kg", 4, 1, 1)
    ]
    assert random == []


def test_a_result_the_outbox_could_not_take_goes_with_the_next_one(
    centre: Centre, tmp_path: Path
) -> None:
    box = Box(centre.fleet, NURZHOLY, tmp_path / "box")
    lonely = Outbox(box.engine, box.outbox.signer, [])  # no route to the centre yet
    with box.engine.begin() as conn:
        first = record_result(conn, arrival_id=1, decision_id=None, officer_id="ivan",
                              findings=(Finding.SEAL,), note=None, now=utcnow())  # fmt: skip
        InspectionDispatch(lonely, NURZHOLY, CENTRE).hook(conn, first, _decision(1))
    assert queued(box.engine, CENTRE, "inspection_result") == []
    with box.engine.begin() as conn:
        second = record_result(conn, arrival_id=2, decision_id=None, officer_id="ivan",
                               findings=(), note=None, now=utcnow())  # fmt: skip
        InspectionDispatch(box.outbox, NURZHOLY, CENTRE).hook(conn, second, _decision(2))
    sent = queued(box.engine, CENTRE, "inspection_result")
    assert [r.outcome for r in centre_inbox(centre).receive(sent)] == [Outcome.APPLIED] * 2
    with centre.engine.connect() as conn:
        got = conn.execute(select(risk_inspection_results.c.result_id)).scalars().all()
    assert sorted(got) == [first.id, second.id]
    with box.engine.begin() as conn:  # nothing left to send
        assert InspectionDispatch(box.outbox, NURZHOLY, CENTRE).send_unqueued(conn) == 0


def _decision(arrival_id: int) -> Decision:
    return Decision(
        id=arrival_id, arrival_id=arrival_id, officer_id="ivan",
        kind=DecisionKind.DOCUMENTARY_CHECK, reason=ReasonCode.LANE_REQUIRES_CHECK, note=None,
        record=None, risk_lane=RiskLane.YELLOW, override=False, decided_at=utcnow(),
    )  # fmt: skip
