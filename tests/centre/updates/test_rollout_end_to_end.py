"""A rollout over the real wire, centre to box and back: the centre's signed `update` command
received by the box's inbox, run by the box's updater (its fetch and install small real
stand-ins: a directory of bundles, a directory for the other slot), its result and its health
reports (built from the update state file) signed by the box and applied by the centre's inbox,
which moves the rollout on until the box, after its reboot and self-test, reports good."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

from sqlalchemy import insert, select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import FleetSection
from centre.fleet.desk import FleetDesk
from centre.fleet.reports import FleetReports
from centre.store import open_centre_database
from centre.store.schema import fleet_boxes, fleet_commands
from centre.updates.rollout import parse_phases
from centre.updates.rollout_store import RolloutStore
from edge.service.fleet_update import BoxUpdater, order_of
from edge.timeutil import utcnow
from provisioning.fleet.health_report import HealthFigures, build_health
from provisioning.identity.trust import TrustStore
from provisioning.update.state import read_state, write_state
from provisioning.update.tuf_client import VerifiedTarget
from sync.inbox import Inbox, Incoming, Outcome
from sync.messages import ClockReport, Message
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from tests.provisioning.fleet_box import BOX, CENTRE, FleetBox, make_box

TARGET = "carec-edge-1.5.0.raucb"


class Centre:
    def __init__(self, box: FleetBox, root: Path) -> None:
        self.engine = open_centre_database(f"sqlite:///{root / 'centre.sqlite3'}")
        fleet = box.fleet
        self.outbox = Outbox(self.engine, Signer.load(fleet.nodes[CENTRE], CENTRE),
                             [Route("*", "broker")])  # fmt: skip
        settings = FleetSection()
        self.desk = FleetDesk(self.engine, self.outbox, settings=settings)
        self.rollouts = RolloutStore(self.engine, self.desk, settings)
        self.inbox = Inbox(
            self.engine, CENTRE, key_lookup(TrustStore.load(fleet.trust_store)),
            centre_appliers(self.outbox, None, FleetReports(settings, updates=self.rollouts)),
            acknowledge=centre_acknowledger(self.outbox),
        )  # fmt: skip
        with self.engine.begin() as conn:
            conn.execute(insert(fleet_boxes).values(
                node_id=BOX, serial="SN-1", state="enrolled", created_at=utcnow()
            ))  # fmt: skip

    def deliver_to(self, box: FleetBox) -> None:
        """What the centre queued for the box, through the box's inbox."""
        items = [i for i in self.outbox.take("broker", 1000) if f"/to/{BOX}/" in i.topic]
        results = box.inbox.receive([Incoming("hub", i.topic, i.envelope) for i in items])
        assert {r.outcome for r in results} <= {Outcome.APPLIED}

    def receive_from(self, box: FleetBox, messages: list[Message]) -> None:
        """`messages` sent by the box, and whatever it queued before (its command results,
        its acknowledgements), through the centre's inbox in the box's order."""
        for message in messages:
            box.outbox.send(message, CENTRE)
        items = box.outbox.take("hub", 1000)
        results = self.inbox.receive([Incoming("broker", i.topic, i.envelope) for i in items])
        assert [r.outcome for r in results] == [Outcome.APPLIED] * len(items), results


def health_of(box_dir: Path) -> Message:
    figures = HealthFigures(
        node=BOX, at=utcnow(), devices=(), plate_worker=None, disk_total_bytes=10**10,
        disk_free_bytes=5 * 10**9, database_bytes=10**6, backlog=(),
        clock=ClockReport(source="chrony", synchronised=True, offset_ms=1.0),
        certificate_not_after=utcnow() + dt.timedelta(days=300), software_version="1.4.0",
        update=read_state(box_dir),
    )  # fmt: skip
    return build_health(figures)


def test_a_rollout_reaches_a_box_over_the_wire_and_its_reports_finish_it(tmp_path: Path) -> None:
    box = make_box(tmp_path / "box")
    centre = Centre(box, tmp_path)
    repository, slot, data = tmp_path / "repository", tmp_path / "slot-b", tmp_path / "data"
    for directory in (repository, slot, data):
        directory.mkdir()
    (repository / TARGET).write_bytes(b"bundle 1.5.0")

    def fetch(target: str, work_dir: Path) -> VerifiedTarget:
        work_dir.mkdir(parents=True, exist_ok=True)
        path = Path(shutil.copy(repository / target, work_dir / target))
        return VerifiedTarget(path, "1.5.0", "0" * 64, path.stat().st_size)

    installed: list[str] = []

    def install(bundle: Path) -> None:
        installed.append(bundle.name)
        shutil.copy(bundle, slot / "root.img")

    updater = BoxUpdater(data, data / "download", fetch=fetch, install=install, reboot=lambda: None)

    rollout_id = centre.rollouts.start(TARGET, "1.5.0", [BOX], parse_phases("100%"),
                                       operator="fleet-op")  # fmt: skip
    centre.deliver_to(box)
    [pending] = box.commands.pending()
    order = order_of(dict(pending.arguments))
    assert order is not None
    assert (order.target, order.rollout) == (TARGET, rollout_id)

    outcome = updater.run(order)
    box.commands.finish(pending.command_id, outcome)
    centre.receive_from(box, [health_of(data)])  # after the command's result
    assert installed == [TARGET]
    detail = centre.rollouts.detail(rollout_id)
    assert detail is not None
    assert (detail.rollout.state, detail.boxes[0].state) == ("running", "rebooting")
    with centre.engine.connect() as conn:
        recorded = conn.execute(select(fleet_commands.c.state, fleet_commands.c.output)).one()
    assert recorded.state == "done"
    assert recorded.output.startswith(f"installed {TARGET} (version 1.5.0)")

    # The box reboots into the other slot; its self-test marks it good (the slot helper's
    # code writes that state: here, as it does, the previous state with phase good).
    write_state(data, read_state(data).model_copy(update={"phase": "good", "booted_slot": "B"}))
    centre.receive_from(box, [health_of(data)])
    detail = centre.rollouts.detail(rollout_id)
    assert detail is not None
    assert (detail.rollout.state, detail.rollout.reason) == ("done", "1 of 1 boxes updated")
    assert detail.boxes[0].state == "good"
