"""The centre's `update` command on the box: the wire (an update names its target; older
commands and health reports stay valid), the box's store keeping the target and rollout with
the command, the updater's steps written to the update state file (downloading, installing,
rebooting, or failed with the reason), and the health report carrying that state.

The fetch and install handed to the updater are small real functions (a directory standing in
for the TUF repository, another for the other slot); the TUF client and RAUC themselves are
tested by their own tests and the image test."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
from pathlib import Path

import pytest

from edge.config import Config
from edge.service.fleet_agent import FleetAgent
from edge.service.fleet_update import BoxUpdater, UpdateOrder, order_of
from edge.timeutil import utcnow
from provisioning.fleet.commands import PendingCommand
from provisioning.fleet.health_report import update_report
from provisioning.update.rauc import UpdateInstallError
from provisioning.update.state import UpdateState, read_state, write_state
from provisioning.update.tuf_client import UpdateRefused, VerifiedTarget
from sync.messages import (
    CommandMessage,
    HealthMessage,
    PayloadError,
    new_message_id,
    parse_payload,
    payload_json,
)
from tests.provisioning.fleet_box import BOX, command, make_box, outcomes

TARGET = "carec-edge-1.5.0.raucb"
ROLLOUT = "019af6c2-5a3e-7c41-9d2b-0f5e6a7b8c9e"


def update_command(**changes: object) -> CommandMessage:
    now = utcnow()
    data = {
        "command_id": new_message_id(), "node": BOX, "action": "update", "issued_by": "fleet-op",
        "issued_at": now, "expires_at": now + dt.timedelta(hours=1), "target": TARGET,
        "rollout": ROLLOUT,
    } | changes  # fmt: skip
    return CommandMessage.model_validate({k: v for k, v in data.items() if v is not None})


# -- the wire -----------------------------------------------------------------------------------


def test_an_update_without_its_target_is_refused_on_the_wire() -> None:
    payload = payload_json(update_command())
    del payload["target"]
    with pytest.raises(PayloadError, match="an update command names its target"):
        parse_payload("command", payload)


def test_a_target_must_be_a_plain_file_name() -> None:
    payload = payload_json(update_command()) | {"target": "../../etc/shadow"}
    with pytest.raises(PayloadError, match="target"):
        parse_payload("command", payload)


def test_other_commands_carry_no_target_and_read_as_before() -> None:
    old = payload_json(command("self_test"))
    assert "target" not in old
    assert "rollout" not in old
    assert parse_payload("command", old) == command_of(old)
    with pytest.raises(PayloadError, match="belong to update commands"):
        parse_payload("command", old | {"target": TARGET})


def command_of(payload: dict[str, object]) -> CommandMessage:
    return CommandMessage.model_validate(payload)


# -- the box's store ----------------------------------------------------------------------------


def test_the_box_keeps_the_target_and_rollout_with_the_pending_command(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    order = update_command()
    assert outcomes(box.send(order)) == ["applied"]
    [pending] = box.commands.pending()
    assert (pending.action, dict(pending.arguments)) == (
        "update", {"target": TARGET, "rollout": ROLLOUT},
    )  # fmt: skip
    assert order_of(dict(pending.arguments)) == UpdateOrder(TARGET, ROLLOUT)
    box.send(command("self_test"))
    assert [dict(p.arguments) for p in box.commands.pending()] == [
        {"target": TARGET, "rollout": ROLLOUT}, {},
    ]  # fmt: skip


def test_an_order_without_a_target_is_none() -> None:
    assert order_of({}) is None
    assert order_of(None) is None


# -- the updater --------------------------------------------------------------------------------


class StandIns:
    """A directory of bundles for the TUF repository and one for the other slot; each call
    notes the update state it found, which the health report would have sent then."""

    def __init__(self, root: Path, state_dir: Path) -> None:
        self.repository = root / "repository"
        self.slot = root / "other-slot"
        self.state_dir = state_dir
        self.repository.mkdir()
        self.slot.mkdir()
        self.seen: list[str] = []
        self.rebooted = 0

    def publish(self, name: str, content: bytes) -> None:
        (self.repository / name).write_bytes(content)

    def fetch(self, target: str, work_dir: Path) -> VerifiedTarget:
        self.seen.append(read_state(self.state_dir).phase)
        source = self.repository / target
        if not source.is_file():
            raise UpdateRefused(f"{target}: not a target of the repository's signed metadata")
        work_dir.mkdir(parents=True, exist_ok=True)
        path = Path(shutil.copy(source, work_dir / target))
        data = path.read_bytes()
        return VerifiedTarget(path, "1.5.0", hashlib.sha256(data).hexdigest(), len(data))

    def install(self, bundle: Path) -> None:
        self.seen.append(read_state(self.state_dir).phase)
        if bundle.read_bytes().startswith(b"BROKEN"):
            raise UpdateInstallError(f"rauc install {bundle.name}: signature verification failed")
        shutil.copy(bundle, self.slot / "root.img")

    def reboot(self) -> None:
        self.rebooted += 1


def updater(tmp_path: Path) -> tuple[BoxUpdater, StandIns]:
    state_dir = tmp_path / "data"
    state_dir.mkdir()
    stand_ins = StandIns(tmp_path, state_dir)
    box_updater = BoxUpdater(
        state_dir, state_dir / "update-download", fetch=stand_ins.fetch,
        install=stand_ins.install, reboot=stand_ins.reboot,
    )  # fmt: skip
    return box_updater, stand_ins


def test_an_update_downloads_installs_and_is_ready_to_reboot(tmp_path: Path) -> None:
    box_updater, stand_ins = updater(tmp_path)
    stand_ins.publish(TARGET, b"a good bundle")

    outcome = box_updater.run(UpdateOrder(TARGET, ROLLOUT))

    assert (outcome.outcome, outcome.output) == (
        "done", f"installed {TARGET} (version 1.5.0) to the other slot; rebooting",
    )  # fmt: skip
    assert stand_ins.seen == ["downloading", "installing"]
    assert (stand_ins.slot / "root.img").read_bytes() == b"a good bundle"
    state = read_state(box_updater.state_dir)
    assert (state.phase, state.target, state.version, state.rollout) == (
        "rebooting", TARGET, "1.5.0", ROLLOUT,
    )  # fmt: skip
    assert list((box_updater.work_dir).iterdir()) == []  # the slot holds it: space back
    assert stand_ins.rebooted == 0  # the agent reboots once the result is recorded
    box_updater.reboot()
    assert stand_ins.rebooted == 1


def test_a_refused_download_fails_with_the_client_s_reason(tmp_path: Path) -> None:
    box_updater, stand_ins = updater(tmp_path)

    outcome = box_updater.run(UpdateOrder(TARGET, ROLLOUT))

    reason = f"download refused: {TARGET}: not a target of the repository's signed metadata"
    assert (outcome.outcome, outcome.output) == ("failed", reason)
    state = read_state(box_updater.state_dir)
    assert (state.phase, state.reason, state.rollout) == ("failed", reason, ROLLOUT)
    assert stand_ins.seen == ["downloading"]


def test_a_bundle_rauc_refuses_fails_with_rauc_s_reason_and_the_slot_untouched(
    tmp_path: Path,
) -> None:
    box_updater, stand_ins = updater(tmp_path)
    stand_ins.publish(TARGET, b"BROKEN bundle")

    outcome = box_updater.run(UpdateOrder(TARGET, ROLLOUT))

    assert outcome.outcome == "failed"
    assert outcome.output == (
        f"install failed: rauc install {TARGET}: signature verification failed"
    )
    assert read_state(box_updater.state_dir).phase == "failed"
    assert list(stand_ins.slot.iterdir()) == []
    assert list(box_updater.work_dir.iterdir()) == []


# -- the health report --------------------------------------------------------------------------


def test_the_health_report_carries_the_update_state() -> None:
    state = UpdateState(phase="rolled_back", target=TARGET, version="1.5.0", booted_slot="A",
                        reason="self-test failed: service not ready", rollout=ROLLOUT)  # fmt: skip
    report = update_report(state)
    assert report is not None
    assert payload_json_of(report) == {
        "phase": "rolled_back", "target": TARGET, "version": "1.5.0", "booted_slot": "A",
        "reason": "self-test failed: service not ready", "rollout": ROLLOUT,
    }  # fmt: skip


def test_a_box_that_never_updated_sends_no_update_section_and_bad_fields_are_left_out() -> None:
    assert update_report(UpdateState()) is None
    assert update_report(None) is None
    typed_by_hand = UpdateState(phase="good", target="my bundle!", version="1.5.0", rollout="x")
    report = update_report(typed_by_hand)
    assert report is not None
    assert payload_json_of(report) == {"phase": "good", "version": "1.5.0"}


def test_an_older_box_s_health_without_update_is_still_valid() -> None:
    from tests.centre.fleet.conftest import healthy

    old = payload_json(healthy(BOX))
    assert "update" not in old
    assert isinstance(parse_payload("health", old), HealthMessage)


def payload_json_of(report: object) -> dict[str, object]:
    from sync.messages import UpdateReport

    assert isinstance(report, UpdateReport)
    return report.model_dump(mode="json", exclude_none=True)


# -- the fleet agent's wiring -------------------------------------------------------------------


class AgentService:
    """What the fleet agent reads of the service for an update: its config and store dir."""

    def __init__(self, data_dir: Path, update_url: str) -> None:
        self.data_dir = data_dir
        self.config = Config.model_validate({
            "node": {"id": BOX},
            "sync": {"identity_dir": str(data_dir / "identity")},
            "fleet": {"report_to": "KZ-CIS", "update_url": update_url},
        })  # fmt: skip


def pending_update(arguments: dict[str, str]) -> PendingCommand:
    return PendingCommand(new_message_id(), "update", utcnow(), arguments)


def test_the_agent_refuses_an_update_without_target_or_without_an_update_url(
    tmp_path: Path,
) -> None:
    agent = FleetAgent(AgentService(tmp_path, ""), None)  # type: ignore[arg-type]
    refused = asyncio.run(agent._update(pending_update({})))
    assert (refused.outcome, refused.output) == ("refused", "update: the command names no target")
    failed = asyncio.run(agent._update(pending_update({"target": TARGET})))
    assert (failed.outcome, failed.output) == ("failed", "update: no [fleet] update_url configured")


def test_the_agent_runs_the_real_tuf_client_and_reports_its_refusal(tmp_path: Path) -> None:
    # No centre listens there and the box has no TUF root yet: the real client refuses, and
    # the box says so in its result and its update state.
    service = AgentService(tmp_path, "https://127.0.0.1:9/updates/v1")
    agent = FleetAgent(service, None)  # type: ignore[arg-type]
    outcome = asyncio.run(agent._update(pending_update({"target": TARGET, "rollout": ROLLOUT})))
    assert outcome.outcome == "failed"
    assert outcome.output.startswith("download refused: ")
    state = read_state(tmp_path)
    assert (state.phase, state.target, state.rollout) == ("failed", TARGET, ROLLOUT)
    assert state.reason == outcome.output


def test_a_box_already_running_the_target_answers_done_and_does_not_reboot(
    tmp_path: Path,
) -> None:
    box_updater, stand_ins = updater(tmp_path)
    write_state(box_updater.state_dir, UpdateState(phase="good", target=TARGET, version="1.5.0",
                                                   booted_slot="B"))  # fmt: skip
    outcome = box_updater.run(UpdateOrder(TARGET, ROLLOUT))
    assert (outcome.outcome, outcome.output) == (
        "done", f"already runs {TARGET} (version 1.5.0); nothing installed",
    )  # fmt: skip
    assert stand_ins.seen == []  # neither fetched nor installed
    state = read_state(box_updater.state_dir)
    assert (state.phase, state.rollout, state.booted_slot) == ("good", ROLLOUT, "B")
    assert not box_updater.needs_reboot()


def test_after_an_install_the_box_needs_its_reboot(tmp_path: Path) -> None:
    box_updater, stand_ins = updater(tmp_path)
    stand_ins.publish(TARGET, b"a good bundle")
    assert not box_updater.needs_reboot()
    box_updater.run(UpdateOrder(TARGET, ROLLOUT))
    assert box_updater.needs_reboot()
