"""The fleet service under test: the centre's store (SQLite and PostgreSQL), its real inbox
with the centre's appliers, the fleet desk, and boxes that sign what they report with their
own keys, handed to the inbox as the broker would deliver them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import insert

from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import FleetSection
from centre.fleet.desk import FleetDesk
from centre.fleet.reports import FleetReports
from centre.store.schema import fleet_boxes
from edge.timeutil import utcnow
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Result
from sync.messages import ClockReport, DeviceHealthReport, HealthMessage, Message
from sync.setup import key_lookup
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY, Centre


@dataclass
class FleetCentre:
    centre: Centre
    desk: FleetDesk
    inbox: Inbox
    settings: FleetSection
    root: Path
    boxes: dict[str, Box] = field(default_factory=dict)

    @property
    def engine(self) -> Any:
        return self.centre.engine

    def box(self, node: str) -> Box:
        if node not in self.boxes:
            self.boxes[node] = Box(self.centre.fleet, node, self.root / node)
        return self.boxes[node]

    def receive(self, node: str, messages: Sequence[Message]) -> list[Result]:
        """What `node` sends, signed by it, through the centre's inbox."""
        return self.inbox.receive(self.box(node).send(list(messages), CENTRE))

    def enrol(self, *nodes: str) -> None:
        now = utcnow()
        with self.engine.begin() as conn:
            conn.execute(insert(fleet_boxes), [
                {"node_id": n, "serial": f"SN-{n}", "state": "enrolled", "created_at": now,
                 "decided_at": now, "decided_by": "op-1"}
                for n in nodes
            ])  # fmt: skip


@pytest.fixture
def fleet_centre(centre: Centre, tmp_path: Path) -> FleetCentre:
    settings = FleetSection()
    key_for = key_lookup(TrustStore.load(centre.fleet.trust_store))
    appliers = centre_appliers(centre.outbox, None, FleetReports(settings))
    inbox = Inbox(centre.engine, CENTRE, key_for, appliers,
                  acknowledge=centre_acknowledger(centre.outbox))  # fmt: skip
    desk = FleetDesk(centre.engine, centre.outbox, settings=settings)
    return FleetCentre(centre, desk, inbox, settings, tmp_path)


def healthy(node: str = NURZHOLY, **changes: Any) -> HealthMessage:
    """A box in good health, with `changes`."""
    now = utcnow()
    report = HealthMessage(
        node=node, at=now, service="ok",
        devices=(DeviceHealthReport(id="cam-1", kind="camera", lane="1", health="connected"),
                 DeviceHealthReport(id="seal-1", kind="seal_reader", lane="1",
                                    health="connected")),
        plate_worker="ok", disk_used_pct=41.5, disk_free_mb=80_000, database_mb=120.0,
        oldest_unsent_evidence_s=None,
        clock=ClockReport(source="chrony", synchronised=True, offset_ms=3.0),
        certificate_not_after=now + dt.timedelta(days=300), software_version="1.4.0",
    )  # fmt: skip
    return replace_message(report, **changes)


def replace_message(message: HealthMessage, **changes: Any) -> HealthMessage:
    return HealthMessage.model_validate({**message.model_dump(), **changes})


__all__ = ["KORGAS", "NURZHOLY", "FleetCentre", "healthy", "replace_message"]
