"""Retention of arrivals, readings and decisions; the legal minimum of evidence; shedding."""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, insert, select

from edge import retention as retention_module
from edge.arrivals import ArrivalStore
from edge.config import EVIDENCE_LEGAL_MINIMUM_DAYS, ConfigError, RetentionConfig, parse_config
from edge.crops import CropStore
from edge.decisions import DecisionKind, DecisionStore, ManualMatchStore, ReasonCode, RecordKey
from edge.disk_space import MB, DiskState, check_disk, shed_for_space
from edge.readings import PlateCandidate, PlateReading, SealRead
from edge.retention import purge_arrivals
from edge.risk import assess
from edge.risk_profiles.facts import facts_of
from edge.risk_profiles.inspection import record_result
from edge.risk_profiles.store import ActiveProfiles, Selector
from edge.service import upkeep
from edge.store.schema import (
    arrival_readings,
    arrivals,
    decisions,
    inspection_results,
    manual_matches,
    officers,
    outbox,
    outbox_envelopes,
    peer_events,
    risk_arrivals,
    sync_counters,
)
from sync.retention import shed_telemetry

NOW = dt.datetime(2032, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
EVIDENCE = EVIDENCE_LEGAL_MINIMUM_DAYS
UNDECIDED = 90


@pytest.fixture
def store(engine: Engine) -> ArrivalStore:
    with engine.begin() as conn:
        conn.execute(
            insert(officers).values(
                id="o1", name="Officer", badge=None, role="officer", language="en",
                pin_hash="x", active=1, created_at=NOW - 4000 * DAY,
            )
        )  # fmt: skip
    return ArrivalStore(engine)


def truck(store: ArrivalStore, opened: dt.datetime, closed: dt.datetime | None = None) -> int:
    arrival_id = store.open("1", "camera", opened)
    plate = PlateReading("cam-1", opened, (PlateCandidate("777ABC02", 0.9),))
    store.add_reading(arrival_id, plate)
    store.add_reading(arrival_id, SealRead("seal-1", opened, "SEAL1", electronic=False))
    if closed is not None:
        store.close(arrival_id, "timeout", closed)
    return arrival_id


def decide(engine: Engine, arrival_id: int, at: dt.datetime, kind: DecisionKind) -> None:
    reason = (
        ReasonCode.NEW_INFORMATION
        if kind is DecisionKind.REOPEN
        else (ReasonCode.DOCUMENTS_IN_ORDER)
    )
    DecisionStore(engine).add(
        arrival_id, "o1", kind, reason, None, RecordKey("KZ-CIS", "T1"), None, False, at
    )


def rows(engine: Engine, table: object, arrival_id: int) -> int:
    column = {
        arrivals: arrivals.c.id,
        arrival_readings: arrival_readings.c.arrival_id,
        decisions: decisions.c.arrival_id,
        manual_matches: manual_matches.c.arrival_id,
    }[table]  # type: ignore[index]
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).where(column == arrival_id)).scalar_one())


def purge(engine: Engine) -> dict[str, int]:
    return purge_arrivals(engine, now=NOW, evidence_days=EVIDENCE, undecided_days=UNDECIDED)


def test_evidence_past_its_retention_goes_with_everything_it_rests_on(
    engine: Engine, store: ArrivalStore
) -> None:
    old = (EVIDENCE + 1) * DAY
    expired = truck(store, NOW - old)
    decide(engine, expired, NOW - old, DecisionKind.RELEASE)
    store.close(expired, "decision", NOW - old)
    ManualMatchStore(engine).attach(expired, "o1", RecordKey("KZ-CIS", "T1"), NOW - old)
    kept = truck(store, NOW - (EVIDENCE - 1) * DAY)
    decide(engine, kept, NOW - (EVIDENCE - 1) * DAY, DecisionKind.RELEASE)
    store.close(kept, "decision", NOW - (EVIDENCE - 1) * DAY)
    for arrival_id in (expired, kept):  # its selectivity and a check's result go with it
        with engine.begin() as conn:
            Selector(ActiveProfiles()).select(
                conn,
                arrival_id,
                NOW - old,
                "777ABC02",
                assess(0.95, []),
                facts_of(None),
                NOW - old,
            )
            record_result(conn, arrival_id=arrival_id, decision_id=None, officer_id="o1",
                          findings=(), note=None, now=NOW - old)  # fmt: skip

    counts = purge(engine)

    assert counts == {"arrivals": 1, "arrival_readings": 2, "decisions": 1, "manual_matches": 1,
                      "risk_arrivals": 1, "inspection_results": 1}  # fmt: skip
    with engine.connect() as conn:
        assert conn.execute(select(risk_arrivals.c.arrival_id)).scalars().all() == [kept]
        assert conn.execute(select(inspection_results.c.arrival_id)).scalars().all() == [kept]
    for table in (arrivals, arrival_readings, decisions, manual_matches):
        assert rows(engine, table, expired) == 0
    assert rows(engine, arrivals, kept) == 1
    assert rows(engine, decisions, kept) == 1
    assert rows(engine, arrival_readings, kept) == 2


def test_a_later_reopening_keeps_the_evidence_from_its_own_date(
    engine: Engine, store: ArrivalStore
) -> None:
    long_ago = NOW - (EVIDENCE + 400) * DAY
    arrival_id = truck(store, long_ago)
    decide(engine, arrival_id, long_ago, DecisionKind.RELEASE)
    store.close(arrival_id, "decision", long_ago)
    decide(engine, arrival_id, NOW - 10 * DAY, DecisionKind.REOPEN)
    assert purge(engine)["arrivals"] == 0
    assert rows(engine, decisions, arrival_id) == 2


def test_undecided_arrivals_go_after_their_days_from_closing(
    engine: Engine, store: ArrivalStore
) -> None:
    expired = truck(store, NOW - 200 * DAY, closed=NOW - (UNDECIDED + 1) * DAY)
    recent = truck(store, NOW - 200 * DAY, closed=NOW - (UNDECIDED - 1) * DAY)
    counts = purge(engine)
    assert counts["arrivals"] == 1
    assert counts["arrival_readings"] == 2
    assert rows(engine, arrivals, expired) == 0
    assert rows(engine, arrival_readings, expired) == 0
    assert rows(engine, arrivals, recent) == 1


def test_an_open_arrival_is_never_purged(engine: Engine, store: ArrivalStore) -> None:
    ancient = truck(store, NOW - 5000 * DAY)
    assert purge(engine)["arrivals"] == 0
    assert rows(engine, arrivals, ancient) == 1


def test_a_decided_arrival_is_not_purged_as_undecided(engine: Engine, store: ArrivalStore) -> None:
    arrival_id = truck(store, NOW - 200 * DAY)
    decide(engine, arrival_id, NOW - 200 * DAY, DecisionKind.REFUSE)
    store.close(arrival_id, "decision", NOW - 200 * DAY)
    assert purge(engine)["arrivals"] == 0


def test_purging_goes_in_batches_and_takes_them_all(engine: Engine, store: ArrivalStore) -> None:
    closed = NOW - (UNDECIDED + 5) * DAY
    row = {"lane": "1", "opened_at": closed - DAY, "opened_by": "camera"}
    row |= {"updated_at": closed, "closed_at": closed, "close_reason": "timeout"}
    with engine.begin() as conn:  # over two batches of 500
        conn.execute(insert(arrivals), [row] * 1203)
    assert purge(engine)["arrivals"] == 1203


@pytest.mark.parametrize("days", [0, 30, 365, EVIDENCE_LEGAL_MINIMUM_DAYS - 1])
def test_a_config_below_the_legal_minimum_of_evidence_is_refused(days: int) -> None:
    with pytest.raises(ConfigError, match=r"retention\.evidence_days: customs evidence is kept"):
        parse_config(f"[retention]\nevidence_days = {days}\n", Path("box.toml"))


def test_the_default_evidence_retention_is_the_legal_minimum() -> None:
    config = parse_config("", Path("box.toml"))
    assert config.retention.evidence_days == EVIDENCE_LEGAL_MINIMUM_DAYS == 1827
    longer = parse_config("[retention]\nevidence_days = 3653\n", Path("box.toml"))
    assert longer.retention.evidence_days == 3653


def test_shedding_below_the_degraded_line_is_refused() -> None:
    text = "[retention]\ndisk_degraded_below_mb = 1000\ndisk_shed_below_mb = 2000\n"
    with pytest.raises(ConfigError, match="disk_shed_below_mb"):
        parse_config(text, Path("box.toml"))


# -- shedding for disk space -------------------------------------------------------------------


def outbox_row(engine: Engine, message_id: str, rank: int, state: str) -> None:
    with engine.begin() as conn:
        conn.execute(
            insert(outbox).values(
                id=message_id, peer="cis", rank=rank, type="telemetry" if rank == 2 else "decision",
                destination="KZ-CIS", stream="s", seq=1, topic="t", created_at=NOW, state=state,
                attempts=0,
            )
        )  # fmt: skip
        conn.execute(insert(outbox_envelopes).values(id=message_id, envelope=b"jws"))


def test_shedding_telemetry_leaves_evidence_and_counts_the_drops(engine: Engine) -> None:
    outbox_row(engine, "t-pending", 2, "pending")
    outbox_row(engine, "t-inflight", 2, "inflight")
    outbox_row(engine, "e-pending", 0, "pending")
    outbox_row(engine, "o-pending", 1, "pending")
    with engine.begin() as conn:
        conn.execute(
            insert(peer_events),
            [
                {"id": "p1", "type": "telemetry", "origin": "KG-X-1", "created_at": NOW,
                 "payload": "{}"},
                {"id": "p2", "type": "decision", "origin": "KG-X-1", "created_at": NOW,
                 "payload": "{}"},
            ],
        )  # fmt: skip
    assert shed_telemetry(engine) == 3
    with engine.connect() as conn:
        left = sorted(conn.execute(select(outbox.c.id)).scalars())
        envelopes = sorted(conn.execute(select(outbox_envelopes.c.id)).scalars())
        events = list(conn.execute(select(peer_events.c.id)).scalars())
        counted = conn.execute(
            select(sync_counters.c.value).where(sync_counters.c.name == "dropped.telemetry")
        ).scalar_one()
    assert left == envelopes == ["e-pending", "o-pending"]
    assert events == ["p2"]
    assert counted == 2


def test_the_disk_check_reads_the_real_free_space(tmp_path: Path) -> None:
    ok = check_disk(tmp_path, degraded_below_mb=2, shed_below_mb=1)
    assert ok.state is DiskState.OK
    assert ok.free_bytes > 2 * MB
    free_mb = ok.free_bytes // MB
    # Lines far above what any disk here has free: the same disk reads as low, then short.
    low = check_disk(tmp_path, degraded_below_mb=free_mb + 10**6, shed_below_mb=1)
    assert low.state is DiskState.LOW
    assert "MB free, below" in low.why
    short = check_disk(tmp_path, degraded_below_mb=free_mb + 10**6, shed_below_mb=free_mb + 10**6)
    assert short.state is DiskState.SHORT
    assert "shedding" in short.why


def test_a_disk_running_short_sheds_telemetry_then_crops_never_evidence(
    engine: Engine, store: ArrivalStore, tmp_path: Path
) -> None:
    crops = CropStore(tmp_path / "crops", 1 << 30, 30 * DAY)
    refs = [
        crops.save(b"\xff\xd8" + bytes(5000), NOW + m * dt.timedelta(minutes=1)) for m in range(5)
    ]
    outbox_row(engine, "t-pending", 2, "pending")
    outbox_row(engine, "e-pending", 0, "pending")
    evidence = truck(store, NOW - DAY)
    decide(engine, evidence, NOW - DAY, DecisionKind.RELEASE)

    free_mb = check_disk(tmp_path, 2, 1).free_bytes // MB
    degraded = free_mb + 10**6
    short = check_disk(tmp_path, degraded_below_mb=degraded, shed_below_mb=degraded)
    shed = shed_for_space(functools.partial(shed_telemetry, engine), crops, short, degraded)

    assert shed.telemetry_rows == 1
    assert shed.crop_bytes > 0
    assert crops.size() == 0
    assert all(crops.load(ref) is None for ref in refs)
    with engine.connect() as conn:
        assert list(conn.execute(select(outbox.c.id)).scalars()) == ["e-pending"]
    assert rows(engine, decisions, evidence) == 1
    assert rows(engine, arrival_readings, evidence) == 2


def test_a_disk_that_is_only_low_sheds_nothing(engine: Engine, tmp_path: Path) -> None:
    crops = CropStore(tmp_path / "crops", 1 << 30, 30 * DAY)
    ref = crops.save(b"\xff\xd8" + bytes(5000), NOW)
    outbox_row(engine, "t-pending", 2, "pending")
    free_mb = check_disk(tmp_path, 2, 1).free_bytes // MB
    low = check_disk(tmp_path, degraded_below_mb=free_mb + 10**6, shed_below_mb=1)
    assert (
        shed_for_space(
            functools.partial(shed_telemetry, engine), crops, low, free_mb + 10**6
        ).telemetry_rows
        == 0
    )
    assert crops.load(ref) is not None


def test_a_retention_pass_runs_as_one_store_job_a_batch(
    engine: Engine, store: ArrivalStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The watchdog waits on the store thread: a pass over many batches must leave it free
    # between two, so each batch is a job of its own.
    monkeypatch.setattr(retention_module, "BATCH", 2)
    monkeypatch.setattr(upkeep, "utcnow", lambda: NOW)
    expired = [truck(store, NOW - 200 * DAY, closed=NOW - (UNDECIDED + 1) * DAY) for _ in range(7)]
    jobs = 0

    async def in_store(fn: Callable[..., Any], *args: Any) -> Any:
        nonlocal jobs
        jobs += 1
        return fn(*args)

    async def one_pass() -> None:
        job = asyncio.ensure_future(
            upkeep.retention_job(
                in_store, lambda: engine,
                CropStore(tmp_path / "crops", 1 << 20, dt.timedelta(days=1)),
                RetentionConfig(undecided_arrival_days=UNDECIDED), 3600,
            )
        )  # fmt: skip
        while not all(rows(engine, arrivals, arrival_id) == 0 for arrival_id in expired):
            await asyncio.sleep(0)  # yields to the job until its pass has deleted them
        job.cancel()

    asyncio.run(asyncio.wait_for(one_pass(), timeout=60))
    assert jobs >= 4  # 7 arrivals in batches of 2, each its own job, and the rest of the pass
