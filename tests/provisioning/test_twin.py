"""The twin on the box, with its real store, outbox and inbox: a desired configuration from
the centre written atomically and watched, refused when it breaks the file's models, rolled
back when health fails within its grace period."""

from __future__ import annotations

import datetime as dt
import tomllib
from pathlib import Path

from sqlalchemy import select

from edge.config import load_config
from edge.store.schema import box_twin, quarantine
from edge.timeutil import utcnow
from provisioning.fleet.config_file import previous_path
from provisioning.fleet.twin import roll_back_unloadable
from sync.messages import TwinReportedMessage
from tests.provisioning.fleet_box import OTHER_BOX, FleetBox, make_box, outcomes, twin


def reports(box: FleetBox) -> list[tuple[int, str, tuple[str, ...]]]:
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for message in box.sent("twin_reported"):
        assert isinstance(message, TwinReportedMessage)
        found.append((message.desired_version, message.state, message.errors))
    return found


def state(box: FleetBox, version: int) -> str:
    with box.engine.connect() as conn:
        return str(
            conn.execute(select(box_twin.c.state).where(box_twin.c.version == version)).scalar_one()
        )


def test_a_twin_change_is_written_watched_and_applied_when_the_grace_period_passes_healthy(
    tmp_path: Path,
) -> None:
    box = make_box(tmp_path)
    before = box.config_path.read_text(encoding="utf-8")
    box.connected = ["scanner-1"]

    results = box.send(twin(1, {"matching": {"min_score": 0.5, "max_candidates": 3}}, grace_s=30))

    assert outcomes(results) == ["applied"]
    config = load_config(box.config_path)
    assert (config.matching.min_score, config.matching.max_candidates) == (0.5, 3)
    assert config.fleet.report_to == "KZ-CIS"  # sections not named are kept ...
    text = box.config_path.read_text(encoding="utf-8")
    assert text.startswith("# The box at Nur Zholy: its own comment stays")  # ... as written
    assert previous_path(box.config_path).read_text(encoding="utf-8") == before
    assert state(box, 1) == "applying"
    assert box.restarts_asked == 1
    assert reports(box) == [(1, "applying", ())]

    started = utcnow()
    assert box.watch.started(started) == [1]
    assert box.watch.judge(started + dt.timedelta(seconds=29), failing=None, connected=[]) is None
    verdict = box.watch.judge(
        started + dt.timedelta(seconds=31), failing=None, connected=["scanner-1"]
    )
    assert verdict is not None
    assert verdict.state == "applied"
    box.watch.settle(verdict, utcnow())
    box.reporter.report_pending(box.engine)

    assert state(box, 1) == "applied"
    assert reports(box) == [(1, "applying", ()), (1, "applied", ())]
    (applied,) = [
        m for m in box.sent("twin_reported")
        if isinstance(m, TwinReportedMessage) and m.state == "applied"
    ]  # fmt: skip
    assert isinstance(applied, TwinReportedMessage)
    assert applied.applied_version == 1


def test_a_twin_that_breaks_the_models_is_rejected_with_an_error_per_key_and_nothing_written(
    tmp_path: Path,
) -> None:
    box = make_box(tmp_path)
    before = box.config_path.read_bytes()

    box.send(twin(1, {"matching": {"min_score": 3, "max_candidates": 0, "colour": "red"}}))
    box.send(twin(2, {"sync": {"identity_dir": "/tmp/elsewhere"}}))
    box.send(twin(3, {"devices": [{"kind": "barcode", "id": "scanner-1"}]}))

    assert box.config_path.read_bytes() == before
    assert not previous_path(box.config_path).exists()
    assert [state(box, v) for v in (1, 2, 3)] == ["rejected"] * 3
    assert box.restarts_asked == 0
    (first, second, third) = reports(box)
    assert first[:2] == (1, "rejected")
    assert sorted(e.split(":")[0] for e in first[2]) == [
        "matching.colour", "matching.max_candidates", "matching.min_score",
    ]  # fmt: skip
    assert second[:2] == (2, "rejected")
    assert second[2] == ("sync.identity_dir: set on the box only (who it is and whom it trusts)",)
    assert third[:2] == (3, "rejected")
    assert any(e.startswith("devices[0].port") for e in third[2]), third[2]


def test_an_older_or_equal_version_is_refused_and_the_centre_told_the_current_state(
    tmp_path: Path,
) -> None:
    box = make_box(tmp_path)
    box.send(twin(5, {"lanes": {"idle_timeout_minutes": 20}}))
    written = box.config_path.read_bytes()

    box.send(twin(5, {"lanes": {"idle_timeout_minutes": 40}}))
    box.send(twin(4, {"lanes": {"idle_timeout_minutes": 50}}))

    assert box.config_path.read_bytes() == written
    assert load_config(box.config_path).lanes.idle_timeout_minutes == 20
    assert box.restarts_asked == 1
    # One report for the change, one for each stale message: the state of version 5.
    assert [r[:2] for r in reports(box)] == [(5, "applying")] * 3


def test_a_twin_from_another_node_than_the_centre_is_quarantined(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    before = box.config_path.read_bytes()

    results = box.send(twin(1, {"matching": {"min_score": 0.9}}), origin=OTHER_BOX)

    assert outcomes(results) == ["quarantined"]
    assert "takes them from KZ-CIS only" in (results[0].detail or "")
    assert box.config_path.read_bytes() == before
    with box.engine.connect() as conn:
        assert conn.execute(select(quarantine.c.reason)).scalars().all() == ["not_applicable"]
        assert conn.execute(select(box_twin)).all() == []


def test_a_twin_after_which_a_device_stays_disconnected_is_rolled_back(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    before = box.config_path.read_text(encoding="utf-8")
    box.connected = ["scanner-1"]
    box.send(twin(1, {"lanes": {"default_lane": "2"}}, grace_s=10))
    started = utcnow()
    box.watch.started(started)

    verdict = box.watch.judge(started + dt.timedelta(seconds=11), failing=None, connected=[])
    assert verdict is not None
    assert verdict.state == "rolled_back"
    assert "scanner-1" in verdict.reason
    box.watch.settle(verdict, utcnow())
    box.reporter.report_pending(box.engine)

    assert box.config_path.read_text(encoding="utf-8") == before
    assert state(box, 1) == "rolled_back"
    assert [r[:2] for r in reports(box)] == [(1, "applying"), (1, "rolled_back")]
    assert "scanner-1" in reports(box)[-1][2][0]


def test_a_failing_service_rolls_the_change_back_at_once(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    box.send(twin(1, {"lanes": {"default_lane": "2"}}, grace_s=600))
    box.watch.started(utcnow())

    verdict = box.watch.judge(utcnow(), failing="the store does not answer", connected=[])

    assert verdict is not None
    assert verdict.state == "rolled_back"
    assert verdict.reason == "service failing: the store does not answer"


def test_a_file_that_does_not_load_after_the_change_is_rolled_back_between_runs(
    tmp_path: Path,
) -> None:
    box = make_box(tmp_path)
    before = box.config_path.read_text(encoding="utf-8")
    box.send(twin(1, {"lanes": {"default_lane": "2"}}))
    box.config_path.write_text("[lanes\n", encoding="utf-8")  # broken on the way, say

    assert roll_back_unloadable(box.engine, box.config_path, ["not valid TOML"])

    assert box.config_path.read_text(encoding="utf-8") == before
    assert state(box, 1) == "rolled_back"
    box.reporter.report_pending(box.engine)
    assert reports(box)[-1][:2] == (1, "rolled_back")
    assert not roll_back_unloadable(box.engine, box.config_path, ["again"])  # nothing applying


def test_sync_keeps_its_identity_when_a_twin_changes_its_peers(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    peers = [
        {"name": "cis", "host": "10.0.0.7", "port": 8883, "ca_file": str(box.fleet.ca_bundle),
         "destinations": ["KZ-*"]},
    ]  # fmt: skip

    box.send(twin(1, {"sync": {"peers": peers, "decisions_to": ["KZ-CIS"]}}))

    data = tomllib.loads(box.config_path.read_text(encoding="utf-8"))
    assert data["sync"]["identity_dir"] == str(box.fleet.nodes["KZ-NURZHOLY-1"])
    assert [p["name"] for p in data["sync"]["peers"]] == ["cis"]
    assert data["sync"]["decisions_to"] == ["KZ-CIS"]


def test_a_change_while_another_is_in_its_grace_period_is_rejected(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    box.send(twin(1, {"lanes": {"default_lane": "2"}}, grace_s=60))
    box.watch.started(utcnow())
    written = box.config_path.read_bytes()

    box.send(twin(2, {"lanes": {"default_lane": "3"}}))

    assert box.config_path.read_bytes() == written
    assert (state(box, 1), state(box, 2)) == ("applying", "rejected")
    (_, _, errors) = reports(box)[-1]
    assert errors[0].startswith("version: 1 is still being applied (its grace period runs until ")
    assert box.restarts_asked == 1


def test_a_device_the_change_removed_is_not_missed(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    box.connected = ["scanner-1", "mrz-1"]
    box.send(twin(1, {"devices": []}, grace_s=10))
    started = utcnow()
    box.watch.started(started)

    verdict = box.watch.judge(
        started + dt.timedelta(seconds=11), failing=None, connected=[], configured=[]
    )

    assert verdict is not None
    assert verdict.state == "applied"
