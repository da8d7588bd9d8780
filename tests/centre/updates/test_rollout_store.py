"""Rollouts kept and driven by the centre (centre.updates.rollout_store), on SQLite and on the
real PostgreSQL: the canary gets a signed `update` command, the boxes' health reports and
command results coming through the real inbox move the rollout on in the same transaction,
a phase over its threshold halts it with its reason and an alert, a silent box times out, the
operator pauses, resumes and aborts, and finished rollouts go after their retention."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import pytest
from sqlalchemy import select

from centre.audit import audit_entries
from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import FleetSection
from centre.fleet.desk import FleetDesk
from centre.fleet.reports import FleetReports
from centre.fleet.retention import purge_fleet
from centre.store.schema import fleet_alerts, fleet_commands, fleet_rollout_boxes
from centre.updates.rollout import RolloutError, parse_phases
from centre.updates.rollout_store import RolloutStore
from edge.timeutil import utcnow
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Outcome
from sync.messages import CommandMessage, CommandResultMessage, UpdateReport
from sync.setup import key_lookup
from tests.centre.conftest import CENTRE, Centre
from tests.centre.fleet.conftest import KORGAS, NURZHOLY, FleetCentre, healthy

TARGET = "carec-edge-1.5.0.raucb"
OTHERS = [f"KZ-POST{i}-1" for i in range(8)]  # enrolled, reported for by the hook directly


class Clock:
    def __init__(self) -> None:
        self.now = utcnow()

    def __call__(self) -> dt.datetime:
        return self.now


@dataclass
class Rollouts:
    fleet: FleetCentre
    store: RolloutStore
    clock: Clock

    def box_states(self, rollout_id: str) -> dict[str, str]:
        with self.fleet.engine.connect() as conn:
            rows = conn.execute(
                select(fleet_rollout_boxes.c.node_id, fleet_rollout_boxes.c.state)
                .where(fleet_rollout_boxes.c.rollout_id == rollout_id)
            )  # fmt: skip
            return {node: state for node, state in rows}

    def update_commands(self, node: str) -> list[CommandMessage]:
        return [
            e.payload
            for e in self.fleet.centre.sent(node)
            if isinstance(e.payload, CommandMessage) and e.payload.action == "update"
        ]

    def report(self, node: str, rollout_id: str, phase: str, reason: str | None = None) -> None:
        """The box's health with its update section, through the centre's inbox."""
        update = UpdateReport(phase=phase, target=TARGET, version="1.5.0", rollout=rollout_id,
                              reason=reason)  # fmt: skip
        results = self.fleet.receive(node, [healthy(node, update=update)])
        assert [r.outcome for r in results] == [Outcome.APPLIED]


@pytest.fixture
def rollouts(centre: Centre, tmp_path: object) -> Rollouts:
    clock = Clock()
    settings = FleetSection(rollout_box_timeout_minutes=60)
    desk = FleetDesk(centre.engine, centre.outbox, settings=settings, clock=clock)
    store = RolloutStore(centre.engine, desk, settings, clock=clock)
    key_for = key_lookup(TrustStore.load(centre.fleet.trust_store))
    appliers = centre_appliers(
        centre.outbox, None, FleetReports(settings, clock=clock, updates=store)
    )
    inbox = Inbox(centre.engine, CENTRE, key_for, appliers,
                  acknowledge=centre_acknowledger(centre.outbox))  # fmt: skip
    fleet = FleetCentre(centre, desk, inbox, settings, tmp_path)  # type: ignore[arg-type]
    fleet.enrol(NURZHOLY, KORGAS, *OTHERS)
    return Rollouts(fleet, store, clock)


def test_the_canary_alone_gets_a_signed_update_command_naming_target_and_rollout(
    rollouts: Rollouts,
) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op"
    )
    [command] = rollouts.update_commands(NURZHOLY)
    assert (command.target, command.rollout, command.issued_by) == (TARGET, rollout_id, "fleet-op")
    assert rollouts.update_commands(KORGAS) == []
    assert rollouts.box_states(rollout_id) == {NURZHOLY: "commanded", KORGAS: "queued"}
    with rollouts.fleet.engine.connect() as conn:
        action = conn.execute(
            select(fleet_commands.c.action)
            .where(fleet_commands.c.command_id == command.command_id)
        ).scalar()  # fmt: skip
    assert action == "update"
    outcomes = [e.outcome for e in audit_entries(rollouts.fleet.engine)]
    assert any(o.startswith(f"start {TARGET} (1.5.0) to 2 boxes") for o in outcomes)


def test_a_good_canary_reported_by_its_health_opens_the_next_phase_at_once(
    rollouts: Rollouts,
) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op"
    )
    rollouts.report(NURZHOLY, rollout_id, "installing")
    assert rollouts.box_states(rollout_id)[NURZHOLY] == "installing"
    assert rollouts.update_commands(KORGAS) == []
    rollouts.report(NURZHOLY, rollout_id, "good")
    # The inbox's transaction drove the rollout: the next phase's box is commanded already.
    assert len(rollouts.update_commands(KORGAS)) == 1
    rollouts.report(KORGAS, rollout_id, "good")
    detail = rollouts.store.detail(rollout_id)
    assert detail is not None
    assert (detail.rollout.state, detail.rollout.reason) == ("done", "2 of 2 boxes updated")
    assert [p.counts for p in detail.phases] == [{"good": 1}, {"good": 1}]


def test_a_rolled_back_canary_halts_with_its_reason_an_alert_and_no_more_commands(
    rollouts: Rollouts,
) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op"
    )
    rollouts.report(NURZHOLY, rollout_id, "rolled_back", "self-test failed: store does not open")
    detail = rollouts.store.detail(rollout_id)
    assert detail is not None
    assert detail.rollout.state == "halted"
    assert "1 of 1 finished boxes failed or rolled back" in detail.rollout.reason
    assert detail.boxes[0].reason == "self-test failed: store does not open"
    with rollouts.fleet.engine.connect() as conn:
        alert = conn.execute(
            select(fleet_alerts.c.node_id, fleet_alerts.c.kind, fleet_alerts.c.reason)
            .where(fleet_alerts.c.subject == rollout_id)
        ).one()  # fmt: skip
    assert (alert.node_id, alert.kind) == (NURZHOLY, "rollout")
    assert alert.reason.startswith(f"rollout of {TARGET} halted: phase 1")
    rollouts.clock.now += dt.timedelta(hours=5)
    assert rollouts.store.drive() == {}  # a halted rollout is no longer driven
    assert rollouts.update_commands(KORGAS) == []
    with pytest.raises(RolloutError, match="a halted rollout cannot resume"):
        rollouts.store.operate(rollout_id, "resume", operator="fleet-op")
    assert rollouts.store.operate(rollout_id, "abort", operator="fleet-op") == "aborted"
    with rollouts.fleet.engine.connect() as conn:
        cleared = conn.execute(
            select(fleet_alerts.c.cleared_at).where(fleet_alerts.c.subject == rollout_id)
        ).scalar()
    assert cleared is not None


def test_a_failed_command_result_fails_the_box(rollouts: Rollouts) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op",
        threshold=1.0,
    )  # fmt: skip
    [command] = rollouts.update_commands(NURZHOLY)
    result = CommandResultMessage(
        command_id=command.command_id, node=NURZHOLY, action="update", outcome="failed",
        output="refused by TUF: the timestamp expired\nmore", finished_at=utcnow(),
    )  # fmt: skip
    assert [r.outcome for r in rollouts.fleet.receive(NURZHOLY, [result])] == [Outcome.APPLIED]
    detail = rollouts.store.detail(rollout_id)
    assert detail is not None
    assert detail.boxes[0].state == "failed"
    assert detail.boxes[0].reason == "command failed: refused by TUF: the timestamp expired"
    # Threshold 100%: the phase finished within it, the next one goes.
    assert len(rollouts.update_commands(KORGAS)) == 1


def test_a_box_silent_past_its_timeout_counts_as_failed(rollouts: Rollouts) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op"
    )
    rollouts.clock.now += dt.timedelta(minutes=30)
    rollouts.report(NURZHOLY, rollout_id, "downloading")  # progress: its 60 minutes start again
    rollouts.clock.now += dt.timedelta(minutes=15)
    rollouts.fleet.receive(NURZHOLY, [healthy(NURZHOLY)])  # alive, but no update progress
    rollouts.clock.now += dt.timedelta(minutes=44)
    rollouts.store.drive()
    assert rollouts.box_states(rollout_id)[NURZHOLY] == "downloading"
    rollouts.clock.now += dt.timedelta(minutes=1)
    steps = rollouts.store.drive()
    assert steps[rollout_id].timed_out == (NURZHOLY,)
    detail = rollouts.store.detail(rollout_id)
    assert detail is not None
    assert detail.rollout.state == "halted"
    assert detail.boxes[0].reason == "no report for 60 minutes (last: downloading)"


def test_a_paused_rollout_waits_and_a_resumed_one_goes_on(rollouts: Rollouts) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op"
    )
    assert rollouts.store.operate(rollout_id, "pause", operator="fleet-op") == "paused"
    rollouts.report(NURZHOLY, rollout_id, "good")  # progress is recorded while paused
    assert rollouts.box_states(rollout_id)[NURZHOLY] == "good"
    assert rollouts.update_commands(KORGAS) == []
    assert rollouts.store.operate(rollout_id, "resume", operator="fleet-op") == "running"
    assert len(rollouts.update_commands(KORGAS)) == 1


def test_bad_requests_are_refused_with_every_reason_and_nothing_is_stored(
    rollouts: Rollouts,
) -> None:
    with pytest.raises(RolloutError) as refused:
        rollouts.store.start(
            "../etc/passwd", "1.5 beta", [NURZHOLY, NURZHOLY], parse_phases("100%"),
            operator="fleet-op", threshold=1.5,
        )  # fmt: skip
    assert [r.split(":")[0] for r in refused.value.reasons] == [
        "target", "version", "boxes", "threshold",
    ]  # fmt: skip
    with pytest.raises(RolloutError, match="KZ-NOWHERE-1: not a box of this fleet"):
        rollouts.store.start(TARGET, "1.5.0", ["KZ-NOWHERE-1"], parse_phases("100%"),
                             operator="fleet-op")  # fmt: skip
    assert rollouts.store.rollouts() == []


def test_a_box_is_in_one_running_rollout_at_a_time(rollouts: Rollouts) -> None:
    first = rollouts.store.start(TARGET, "1.5.0", [NURZHOLY], parse_phases("100%"),
                                 operator="fleet-op")  # fmt: skip
    with pytest.raises(RolloutError, match=f"{NURZHOLY}: in rollout {first} already"):
        rollouts.store.start(TARGET, "1.5.0", [KORGAS, NURZHOLY], parse_phases("100%"),
                             operator="fleet-op")  # fmt: skip
    rollouts.store.operate(first, "abort", operator="fleet-op", reason="wrong bundle")
    rollouts.store.start(TARGET, "1.5.0", [KORGAS, NURZHOLY], parse_phases("100%"),
                         operator="fleet-op")  # fmt: skip


def test_a_report_from_an_older_box_or_another_rollout_changes_nothing(
    rollouts: Rollouts,
) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="fleet-op"
    )
    rollouts.fleet.receive(NURZHOLY, [healthy(NURZHOLY)])  # no update section
    rollouts.report(NURZHOLY, "019af6c2-5a3e-7c41-9d2b-0f5e6a7b8c9e", "good")
    rollouts.report(KORGAS, rollout_id, "good")  # not commanded yet: queued stays
    assert rollouts.box_states(rollout_id) == {NURZHOLY: "commanded", KORGAS: "queued"}


def test_the_next_phase_is_commanded_whole_once_the_canaries_are_good(rollouts: Rollouts) -> None:
    rollout_id = rollouts.store.start(
        TARGET, "1.5.0", OTHERS, parse_phases("2, 100%"), operator="fleet-op"
    )
    with rollouts.fleet.engine.begin() as conn:
        rollouts.store.health(conn, [
            healthy(node, update=UpdateReport(phase="good", rollout=rollout_id))
            for node in OTHERS[:2]
        ], rollouts.clock.now)  # fmt: skip
    states = rollouts.box_states(rollout_id)
    assert sorted(states.values()) == ["commanded"] * 6 + ["good"] * 2


def test_finished_rollouts_go_after_their_retention(rollouts: Rollouts) -> None:
    rollout_id = rollouts.store.start(TARGET, "1.5.0", [NURZHOLY], parse_phases("100%"),
                                      operator="fleet-op")  # fmt: skip
    running = rollouts.store.start(TARGET, "1.5.0", [KORGAS], parse_phases("100%"),
                                   operator="fleet-op")  # fmt: skip
    rollouts.store.operate(rollout_id, "abort", operator="fleet-op")
    settings = rollouts.fleet.settings
    later = rollouts.clock.now + dt.timedelta(days=settings.rollouts_days, seconds=1)
    with rollouts.fleet.engine.begin() as conn:
        assert purge_fleet(conn, settings, later)["rollouts"] == 1
    assert [r.rollout_id for r in rollouts.store.rollouts()] == [running]
    assert rollouts.box_states(rollout_id) == {}
