"""The fleet operator's actions: a desired configuration checked with the box's models,
versioned and sent signed; commands sent with their expiry; what the boxes answer, stored."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import event, select

from centre.audit import audit_entries
from centre.fleet.desk import FleetDesk, FleetError
from centre.store.schema import fleet_twins
from edge.store.schema import quarantine
from edge.timeutil import utcnow
from sync.inbox import Outcome
from sync.messages import (
    CommandMessage,
    CommandResultMessage,
    TwinDesiredMessage,
    TwinReportedMessage,
    new_message_id,
)
from tests.centre.conftest import CENTRE
from tests.centre.fleet.conftest import KORGAS, NURZHOLY, FleetCentre

HOUR = dt.timedelta(hours=1)


def test_a_desired_change_is_versioned_merged_and_sent_signed_to_the_box(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY)
    desk = fleet_centre.desk
    first = desk.set_desired(NURZHOLY, {"matching": {"min_score": 0.5}}, operator="op-1")
    second = desk.set_desired(
        NURZHOLY, {"lanes": {"default_lane": "2"}}, operator="op-2", grace_s=120
    )
    assert (first, second) == (1, 2)
    sent = [e.payload for e in fleet_centre.centre.sent(NURZHOLY)]
    assert [type(p) for p in sent] == [TwinDesiredMessage, TwinDesiredMessage]
    last = sent[-1]
    assert isinstance(last, TwinDesiredMessage)
    assert last.version == 2
    assert last.issued_by == "op-2"
    assert last.grace_s == 120
    # A section not named again keeps its desired content: the box gets the whole of it.
    assert last.sections == {"matching": {"min_score": 0.5}, "lanes": {"default_lane": "2"}}
    detail = desk.box(NURZHOLY)
    assert detail is not None
    assert detail.twin is not None
    assert detail.twin.desired_version == 2
    assert detail.twin.desired_by == "op-2"
    actions = [(e.operator, e.action, e.outcome) for e in audit_entries(fleet_centre.engine)]
    assert actions[:2] == [("op-2", "fleet.twin", "version 2: lanes"),
                           ("op-1", "fleet.twin", "version 1: matching")]  # fmt: skip


def test_bad_sections_are_refused_naming_each_key_and_nothing_is_sent(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY)
    with pytest.raises(FleetError) as refused:
        fleet_centre.desk.set_desired(
            NURZHOLY,
            {"matching": {"min_score": 2, "min_scroe": 0.1}, "lanes": {"idle_timeout_minutes": 0}},
            operator="op-1",
        )
    reasons = refused.value.reasons
    assert any(r.startswith("matching.min_score: ") for r in reasons)
    assert any(r.startswith("matching.min_scroe: unknown key") for r in reasons)
    assert any(r.startswith("lanes.idle_timeout_minutes: ") for r in reasons)
    with pytest.raises(FleetError) as local:
        fleet_centre.desk.set_desired(
            NURZHOLY, {"node": {"id": "KZ-X-1"}, "sync": {"identity_dir": "/tmp"}}, operator="op"
        )
    assert [r.split(":")[0] for r in local.value.reasons] == ["node", "sync.identity_dir"]
    assert fleet_centre.centre.sent(NURZHOLY) == []
    with fleet_centre.engine.connect() as conn:
        assert conn.execute(select(fleet_twins)).first() is None


def test_only_an_enrolled_box_takes_changes_and_commands(fleet_centre: FleetCentre) -> None:
    with pytest.raises(FleetError) as unknown:
        fleet_centre.desk.set_desired(NURZHOLY, {"matching": {}}, operator="op-1")
    assert unknown.value.reasons == [f"{NURZHOLY}: not a box of this fleet"]
    fleet_centre.enrol(NURZHOLY)
    with pytest.raises(FleetError) as one_unknown:
        fleet_centre.desk.issue_command([NURZHOLY, KORGAS], "restart", operator="op", ttl=HOUR)
    assert one_unknown.value.reasons == [f"{KORGAS}: not a box of this fleet"]
    assert fleet_centre.centre.sent() == []


def test_a_twin_report_is_stored_and_a_rollback_alerts_until_a_version_applies(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY)
    fleet_centre.desk.set_desired(NURZHOLY, {"matching": {"min_score": 0.5}}, operator="op-1")

    def reported(state: str, applied: int, version: int = 1) -> TwinReportedMessage:
        return TwinReportedMessage(
            node=NURZHOLY, desired_version=version, state=state, applied_version=applied,
            software_version="1.4.0", devices_found=("cam-1",), reported_at=utcnow(),
        )  # fmt: skip

    fleet_centre.receive(NURZHOLY, [reported("rolled_back", 0)])
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert detail.twin is not None
    assert (detail.twin.reported_state, detail.twin.applied_version) == ("rolled_back", 0)
    assert detail.twin.reported is not None
    assert detail.twin.reported["devices_found"] == ["cam-1"]
    [alert] = detail.alerts
    assert alert.kind == "twin"
    assert "version 1 rolled back" in alert.reason
    assert alert.cleared_at is None
    fleet_centre.desk.set_desired(NURZHOLY, {"matching": {"min_score": 0.4}}, operator="op-1")
    fleet_centre.receive(NURZHOLY, [reported("applied", 2, version=2)])
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert detail.twin is not None
    assert (detail.twin.reported_state, detail.twin.applied_version) == ("applied", 2)
    assert detail.alerts[0].cleared_at is not None
    assert fleet_centre.desk.boxes()[0].applied_version == 2


def test_a_command_goes_signed_with_its_expiry_and_its_result_comes_back(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY, KORGAS)
    ids = fleet_centre.desk.issue_command(
        [NURZHOLY, KORGAS], "diagnostics", operator="op-1", ttl=HOUR
    )
    assert len(set(ids)) == 2
    [sent] = [e.payload for e in fleet_centre.centre.sent(NURZHOLY)]
    assert isinstance(sent, CommandMessage)
    assert (sent.command_id, sent.action, sent.issued_by) == (ids[0], "diagnostics", "op-1")
    assert sent.expires_at - sent.issued_at == HOUR
    result = CommandResultMessage(
        command_id=ids[0], node=NURZHOLY, action="diagnostics", outcome="done",
        output="self-test: 12 of 12 passed", attachment="H4sIAAAAAAAA/wMAAAAAAAAAAAA=",
        finished_at=utcnow(),
    )  # fmt: skip
    [applied] = fleet_centre.receive(NURZHOLY, [result])
    assert applied.outcome is Outcome.APPLIED
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    [command] = detail.commands
    assert (command.state, command.output, command.has_attachment) == (
        "done", "self-test: 12 of 12 passed", True,
    )  # fmt: skip
    assert fleet_centre.desk.attachment(ids[0]) == result.attachment
    other = fleet_centre.desk.box(KORGAS)
    assert other is not None
    assert other.commands[0].state == "sent"
    assert {e.action for e in audit_entries(fleet_centre.engine)} == {"fleet.command"}


def test_a_result_for_a_command_never_sent_is_quarantined_with_its_reason(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY, KORGAS)
    [to_korgas] = fleet_centre.desk.issue_command([KORGAS], "restart", operator="op", ttl=HOUR)
    results = [
        *fleet_centre.receive(NURZHOLY, [  # another box's command
            CommandResultMessage(command_id=to_korgas, node=NURZHOLY, action="restart",
                                 outcome="done", finished_at=utcnow())
        ]),
        *fleet_centre.receive(KORGAS, [  # a command id the centre never issued
            CommandResultMessage(command_id=new_message_id(), node=KORGAS, action="restart",
                                 outcome="done", finished_at=utcnow())
        ]),
    ]  # fmt: skip
    assert [r.outcome for r in results] == [Outcome.QUARANTINED, Outcome.QUARANTINED]
    assert f"was sent to {NURZHOLY}" in (results[0].detail or "")
    assert f"was sent to {KORGAS}" in (results[1].detail or "")
    with fleet_centre.engine.connect() as conn:
        reasons = conn.execute(select(quarantine.c.reason)).scalars().all()
    assert reasons == ["not_applicable", "not_applicable"]
    korgas = fleet_centre.desk.box(KORGAS)
    assert korgas is not None
    assert korgas.commands[0].state == "sent"


def test_a_failed_command_alerts_until_the_same_action_succeeds(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY)

    def run(outcome: str) -> None:
        [command_id] = fleet_centre.desk.issue_command(
            [NURZHOLY], "self_test", operator="op", ttl=HOUR
        )
        fleet_centre.receive(NURZHOLY, [CommandResultMessage(
            command_id=command_id, node=NURZHOLY, action="self_test", outcome=outcome,
            output="camera cam-1: no frames", finished_at=utcnow(),
        )])  # fmt: skip

    run("failed")
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    [alert] = detail.alerts
    assert (alert.kind, alert.subject, alert.cleared_at) == ("command", "self_test", None)
    run("done")
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert detail.alerts[0].cleared_at is not None


def test_bad_command_requests_are_refused_with_reasons(fleet_centre: FleetCentre) -> None:
    fleet_centre.enrol(NURZHOLY)
    with pytest.raises(FleetError) as refused:
        fleet_centre.desk.issue_command(
            [NURZHOLY, NURZHOLY], "format_disk", operator="op", ttl=dt.timedelta(days=30)
        )
    assert [r.split(":")[0] for r in refused.value.reasons] == ["action", "ttl", "boxes"]
    assert CENTRE not in [b.node_id for b in fleet_centre.desk.boxes()]


def test_a_rejected_twin_alerts_with_the_box_s_first_error(fleet_centre: FleetCentre) -> None:
    fleet_centre.enrol(NURZHOLY)
    fleet_centre.desk.set_desired(NURZHOLY, {"devices": [{"kind": "camera"}]}, operator="op-1")
    fleet_centre.receive(NURZHOLY, [TwinReportedMessage(
        node=NURZHOLY, desired_version=1, state="rejected", applied_version=0,
        errors=("devices[0].id: required", "devices[0].port: required"),
        software_version="1.4.0", reported_at=utcnow(),
    )])  # fmt: skip
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert detail.twin is not None
    assert detail.twin.reported is not None
    assert detail.twin.reported["errors"] == [
        "devices[0].id: required",
        "devices[0].port: required",
    ]
    [alert] = detail.alerts
    assert alert.reason == "twin version 1 rejected (2 errors): devices[0].id: required"
    assert fleet_centre.desk.boxes()[0].twin_state == "rejected"


def test_two_operators_setting_a_boxs_first_twin_at_once_the_second_is_told_to_retry(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY)
    desk = fleet_centre.desk
    engine = fleet_centre.engine

    raced: list[int] = []
    racing: list[bool] = []

    def the_other_operator_first(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        # Just before this desk writes the box's first twin, another instance writes one.
        if statement.startswith("INSERT INTO fleet_twins") and not racing:
            racing.append(True)  # the other desk's own insert goes through
            other = FleetDesk(engine, desk.outbox)
            raced.append(other.set_desired(NURZHOLY, {"lanes": {"default_lane": "3"}},
                                           operator="op-other"))  # fmt: skip

    event.listen(engine, "before_cursor_execute", the_other_operator_first)
    with pytest.raises(FleetError) as refused:
        desk.set_desired(NURZHOLY, {"matching": {"min_score": 0.5}}, operator="op-1")

    event.remove(engine, "before_cursor_execute", the_other_operator_first)
    assert raced == [1]
    assert "another operator changed this box's configuration" in refused.value.reasons[0]
    detail = desk.box(NURZHOLY)
    assert detail is not None
    assert detail.twin is not None
    assert (detail.twin.desired_version, detail.twin.desired_by) == (1, "op-other")
    sent = [e.payload for e in fleet_centre.centre.sent(NURZHOLY)]
    assert [p.version for p in sent if isinstance(p, TwinDesiredMessage)] == [1]
