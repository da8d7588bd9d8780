"""A decision and its messages in the outbox are one transaction; a decision the outbox refused
is kept and sent once at the next start; the sync contract carries the core's decision kinds,
the final ones only."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from argon2 import PasswordHasher
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, func, literal_column, select

from edge import faults
from edge.arrivals import ArrivalStore, Lanes
from edge.config import SyncConfig
from edge.decisions import Decision, DecisionKind, Decisions, DecisionStore, ReasonCode
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import Officer, OfficerStore, Role
from edge.readings import PlateCandidate, PlateReading
from edge.risk import RiskLane
from edge.service.dispatch import DecisionDispatch
from edge.store.schema import decisions, outbox, outbox_envelopes
from edge.timeutil import utcnow
from sync.envelope import open_envelope
from sync.messages import ArrivalMessage, PayloadError, parse_payload
from sync.outbox import Outbox, Route, Signer

NODE = "KZ-NURZHOLY-1"
KEY = Ed25519PrivateKey.generate()
SYNC = SyncConfig(decisions_to=["KZ-CIS"])
IVAN = Officer("ivan", "Ivan", None, Role.OFFICER, "en")
T0 = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)


@pytest.fixture
def faults_from_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    yield monkeypatch
    monkeypatch.delenv(faults.ENV, raising=False)
    faults.reset()


def inject(monkeypatch: pytest.MonkeyPatch, spec: str) -> None:
    monkeypatch.setenv(faults.ENV, spec)
    faults.reset()


def dispatch_for(engine: Engine, cache: ManifestCache, *routes: Route) -> DecisionDispatch:
    box = Outbox(engine, Signer(NODE, KEY), list(routes) or [Route("KZ-*", "cis")])
    return DecisionDispatch(engine, cache, NODE, SYNC, box)


def desk(engine: Engine, cache: ManifestCache, dispatch: DecisionDispatch) -> Decisions:
    lanes = Lanes(ArrivalStore(engine), Matcher(cache), dt.timedelta(minutes=30))
    officers = OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    officers.create(IVAN.id, IVAN.name, "1234", IVAN.role)
    decisions_ = Decisions(DecisionStore(engine), lanes)
    decisions_.hooks.append(dispatch.hook)
    return decisions_


def release(decisions_: Decisions, arrival_id: int) -> Decision:
    return decisions_.decide(
        IVAN, arrival_id, DecisionKind.RELEASE, ReasonCode.DOCUMENTS_IN_ORDER, None, None,
        RiskLane.GREEN,
    )  # fmt: skip


def types(engine: Engine) -> list[str]:
    """The outbox's messages' types, in the order they were sent."""
    with engine.connect() as conn:
        return list(conn.execute(select(outbox.c.type).order_by(literal_column("rowid"))).scalars())


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def test_a_decision_is_stored_with_its_messages_in_one_transaction(
    engine: Engine, cache: ManifestCache
) -> None:
    dispatch = dispatch_for(engine, cache)
    decisions_ = desk(engine, cache, dispatch)
    decision = release(decisions_, decisions_.lanes.open("1", at=T0))
    assert types(engine) == ["arrival", "decision"]  # the arrival goes with its first decision
    assert dispatch.store.unqueued() == []
    assert dispatch.send_unqueued().queued == 0  # nothing twice
    assert count(engine, outbox) == 2
    assert decision.kind is DecisionKind.RELEASE


def test_a_decision_that_fails_before_its_commit_leaves_nothing_half_done(
    engine: Engine, cache: ManifestCache, faults_from_env: pytest.MonkeyPatch
) -> None:
    decisions_ = desk(engine, cache, dispatch_for(engine, cache))
    arrival_id = decisions_.lanes.open("1", at=T0)
    inject(faults_from_env, "decision.before_commit=raise")
    with pytest.raises(faults.InjectedFaultError):
        release(decisions_, arrival_id)
    assert (count(engine, decisions), count(engine, outbox)) == (0, 0)
    arrival = decisions_.lanes.store.get(arrival_id)
    assert arrival is not None
    assert arrival.is_open  # its closing was rolled back with the decision


def test_a_decision_the_outbox_refuses_is_kept_and_sent_once_at_the_next_start(
    engine: Engine, cache: ManifestCache
) -> None:
    # No route to the national system: the outbox refuses the decision's message.
    refusing = dispatch_for(engine, cache, Route("KG-*", "partner"))
    decisions_ = desk(engine, cache, refusing)
    arrival_id = decisions_.lanes.open("1", at=T0)
    decision = release(decisions_, arrival_id)
    assert decisions_.hook_failures == 1
    assert decisions_.store.for_arrival(arrival_id) == [decision]  # the officer's act stays
    arrival = decisions_.lanes.store.get(arrival_id)
    assert arrival is not None
    assert arrival.close_reason == "decision"
    assert count(engine, outbox) == 0
    assert refusing.store.unqueued() == [decision]

    still_refusing = refusing.send_unqueued()
    assert (still_refusing.queued, still_refusing.failed) == (0, 1)

    fixed = dispatch_for(engine, cache)  # the next start, with the route configured
    assert fixed.send_unqueued().queued == 1
    assert count(engine, outbox) == 2  # the arrival and the decision
    assert fixed.send_unqueued().queued == 0  # exactly once
    assert count(engine, outbox) == 2


def test_a_reopening_sends_nothing_and_is_never_unqueued(
    engine: Engine, cache: ManifestCache
) -> None:
    dispatch = dispatch_for(engine, cache)
    decisions_ = desk(engine, cache, dispatch)
    arrival_id = decisions_.lanes.open("1", at=T0)
    release(decisions_, arrival_id)
    sara = Officer("sara", "Sara", None, Role.SUPERVISOR, "en")
    OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)).create(
        sara.id, sara.name, "2222", sara.role
    )
    decisions_.reopen(sara, arrival_id, ReasonCode.NEW_INFORMATION, None)
    assert types(engine) == ["arrival", "decision"]
    assert dispatch.store.unqueued() == []
    release(decisions_, arrival_id)  # decided again: its arrival was sent already
    assert types(engine) == ["arrival", "decision", "decision"]


def test_the_sync_contract_carries_the_cores_final_kinds_only() -> None:
    payload = {
        "arrival": {"node": NODE, "arrival_id": 1},
        "decision": "release",
        "reason": "DOCUMENTS_IN_ORDER",
        "officer": "ivan",
        "decided_at": "2026-11-28T09:00:00Z",
    }
    message = parse_payload("decision", payload)
    assert message.decision is DecisionKind.RELEASE  # type: ignore[attr-defined]
    with pytest.raises(PayloadError, match="decision: Input should be 'release'"):
        parse_payload("decision", payload | {"decision": "reopen"})


def test_a_hook_that_fails_after_writing_takes_back_its_own_rows_only(
    engine: Engine, cache: ManifestCache
) -> None:
    dispatch = dispatch_for(engine, cache)
    decisions_ = desk(engine, cache, dispatch)

    def queue_then_fail(conn: Any, decision: Decision) -> None:
        dispatch.queue(conn, decision)  # the outbox rows and the mark, then a failure
        raise RuntimeError("the disk said no")

    decisions_.hooks[:] = [queue_then_fail]
    decision = release(decisions_, decisions_.lanes.open("1", at=T0))
    assert (count(engine, decisions), count(engine, outbox)) == (1, 0)
    assert dispatch.store.unqueued() == [decision]


def test_the_arrival_sent_with_its_decision_says_what_the_lane_saw(
    engine: Engine, cache: ManifestCache
) -> None:
    dispatch = dispatch_for(engine, cache)
    decisions_ = desk(engine, cache, dispatch)
    read = PlateReading(
        "cam-1",
        T0,
        (PlateCandidate("777 ABC 02", 0.93, "tractor"), PlateCandidate("777 A8C 02", 0.4)),
    )
    arrival_id = decisions_.lanes.on_reading("1", read)
    assert arrival_id is not None
    release(decisions_, arrival_id)
    with engine.connect() as conn:
        first = conn.execute(
            select(outbox_envelopes.c.envelope)
            .join(outbox, outbox.c.id == outbox_envelopes.c.id)
            .where(outbox.c.type == "arrival")
        ).scalar_one()
    envelope = open_envelope(
        first, lambda _o, _c: KEY.public_key(), expected_destination="KZ-CIS", now=utcnow(),
        max_age=None,
    )  # fmt: skip
    sent = envelope.payload
    assert isinstance(sent, ArrivalMessage)
    assert (sent.node, sent.lane, sent.arrival_id) == (NODE, "1", arrival_id)
    assert [(r.text, r.position) for r in sent.plate_reads] == [("777 ABC 02", "tractor")]
    assert sent.discrepancies == ("NO_PRE_ARRIVAL",)  # the cache holds no record
    assert (sent.ambiguous, sent.risk_lane) == (False, "green")
