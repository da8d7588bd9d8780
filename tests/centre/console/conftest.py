"""The fleet pages under test: the console over a centre whose fleet desk and enrolments are the
real ones, its boxes reporting signed health and twin reports through the centre's real inbox
(with the fleet's appliers), and four operators: a fleet operator, an auditor, a records
operator and a viewer.

The seeded fleet: KZ-NURZHOLY-1 healthy (green) with a health history and a twin it rolled
back; KZ-KORGAS-1 with its disk full (red, an open alert); KG-TORUGART-1 enrolled and never
heard (grey); KZ-ALTYNKOL-1 asking to join (pending, with its enrolment code)."""

from __future__ import annotations

import contextlib
import datetime as dt
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import uvicorn
from cryptography.hazmat.primitives.serialization import Encoding
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import FleetSection
from centre.console.app import create_console
from centre.console.operators import Role, add_operator
from centre.console.settings import ConsoleSettings
from centre.fleet.desk import FleetDesk
from centre.fleet.enrolment import Enrolments, EnrolmentSettings
from centre.fleet.reports import FleetReports
from centre.records import RecordDesk
from centre.routing import Routing
from centre.store import open_centre_database
from centre.store.schema import console_audit, fleet_boxes, fleet_commands
from edge.store.schema import outbox
from edge.timeutil import utcnow
from provisioning.fleet.enrolment_protocol import enrolment_code
from provisioning.identity.csr import create_csr
from provisioning.identity.fleet import Fleet
from provisioning.identity.keys import generate_key
from provisioning.identity.node_id import NodeId
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Outcome
from sync.messages import (
    ClockReport,
    DeviceHealthReport,
    HealthMessage,
    Message,
    TwinReportedMessage,
)
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY, ROUTING, TORUGART, Centre
from tests.centre.console_helpers import FAST_HASHER, csrf_of

ALTYNKOL = "KZ-ALTYNKOL-1"
ALTYNKOL_SERIAL = "SN-ALTYNKOL-0001"
PASSWORDS = {
    "farida": "farida-password-1",  # fleet
    "anton": "anton-password-1",  # auditor
    "olga": "olga-password-1",  # operator (records)
    "viktor": "viktor-password-1",  # viewer
}
ROLES = {"farida": Role.FLEET, "anton": Role.AUDITOR, "olga": Role.OPERATOR, "viktor": Role.VIEWER}


@dataclass
class FleetUnderTest:
    centre: Centre
    desk: FleetDesk
    enrolments: Enrolments
    inbox: Inbox
    app: FastAPI
    root: Path
    boxes: dict[str, Box] = field(default_factory=dict)
    altynkol_code: str = ""

    @property
    def engine(self) -> object:
        return self.centre.engine

    def report(self, node: str, messages: list[Message]) -> None:
        """What `node` sends, signed by it, through the centre's real inbox: applied."""
        if node not in self.boxes:
            self.boxes[node] = Box(self.centre.fleet, node, self.root / "boxes" / node)
        results = self.inbox.receive(self.boxes[node].send(messages, CENTRE))
        assert [r.outcome for r in results] == [Outcome.APPLIED] * len(messages), results

    def commands(self) -> list[tuple[str, str, str, str]]:
        """(node, action, issued_by, state) of every command, in order of issue."""
        query = select(
            fleet_commands.c.node_id, fleet_commands.c.action, fleet_commands.c.issued_by,
            fleet_commands.c.state, fleet_commands.c.command_id,
        ).order_by(fleet_commands.c.issued_at, fleet_commands.c.node_id)  # fmt: skip
        with self.centre.engine.connect() as conn:
            return [tuple(r)[:4] for r in conn.execute(query)]

    def command_ids(self, node: str) -> list[str]:
        with self.centre.engine.connect() as conn:
            return list(
                conn.execute(
                    select(fleet_commands.c.command_id).where(fleet_commands.c.node_id == node)
                ).scalars()
            )

    def sent_types(self, node: str) -> list[str]:
        """The types of the signed envelopes the centre's outbox holds for `node`, verified
        (but the acknowledgements of what it sent)."""
        return [e.type for e in self.centre.sent(node) if e.type != "ack"]

    def outbox_rows(self) -> int:
        with self.centre.engine.connect() as conn:
            return len(conn.execute(select(outbox.c.id)).all())

    def audit_rows(self) -> list[tuple[str, str, str, str, str]]:
        query = select(
            console_audit.c.operator, console_audit.c.action, console_audit.c.item,
            console_audit.c.reason, console_audit.c.outcome,
        ).order_by(console_audit.c.id)  # fmt: skip
        with self.centre.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


def health(node: str, at: dt.datetime, **changes: object) -> HealthMessage:
    """A box's health report at `at`: in good health, but for `changes`."""
    values: dict[str, object] = {
        "node": node, "at": at, "service": "ok",
        "devices": (DeviceHealthReport(id="cam-1", kind="camera", lane="1", health="connected"),),
        "plate_worker": "ok", "disk_used_pct": 41.5, "disk_free_mb": 80_000,
        "database_mb": 120.0, "oldest_unsent_evidence_s": None,
        "clock": ClockReport(source="chrony", synchronised=True, offset_ms=3.0),
        "certificate_not_after": at + dt.timedelta(days=300), "software_version": "1.4.0",
    }  # fmt: skip
    return HealthMessage.model_validate(values | changes)


def enrol(fleet: FleetUnderTest, *nodes: str) -> None:
    now = utcnow()
    with fleet.centre.engine.begin() as conn:
        conn.execute(insert(fleet_boxes), [
            {"node_id": n, "serial": f"SN-{n}", "state": "enrolled", "created_at": now,
             "decided_at": now, "decided_by": "registration"}
            for n in nodes
        ])  # fmt: skip


def seed(fleet: FleetUnderTest) -> None:
    """The fleet of the module's docstring, through the real inbox and enrolments."""
    enrol(fleet, NURZHOLY, KORGAS, TORUGART)
    now = utcnow()
    # Nurzholy: a history of five reports ten minutes apart, its disk filling slowly.
    fleet.report(NURZHOLY, [
        health(NURZHOLY, now - dt.timedelta(minutes=10 * (4 - i)), disk_used_pct=40.0 + i,
               database_mb=100.0 + 5 * i)
        for i in range(5)
    ])  # fmt: skip
    version = fleet.desk.set_desired(
        NURZHOLY, {"matching": {"min_score": 0.5}}, operator="registration"
    )
    fleet.report(NURZHOLY, [
        TwinReportedMessage(
            node=NURZHOLY, desired_version=version, state="rolled_back", applied_version=0,
            errors=("health: camera cam-1 disconnected within the grace period",),
            software_version="1.4.0", devices_found=("cam-1",), reported_at=utcnow(),
        )
    ])  # fmt: skip
    fleet.report(KORGAS, [health(KORGAS, now, disk_used_pct=96.5, disk_free_mb=900)])
    # Altynkol asks to join with a CSR of its own key: pending, with the code of that key.
    key = generate_key()
    csr = create_csr(key, NodeId.parse(ALTYNKOL)).public_bytes(Encoding.PEM)
    answer = fleet.enrolments.request(ALTYNKOL_SERIAL, csr)
    assert answer.state == "pending"
    fleet.altynkol_code = enrolment_code(key.public_key())


def make_fleet_console(centre: Centre, root: Path) -> FleetUnderTest:
    engine = centre.engine
    for login, role in ROLES.items():
        add_operator(engine, login, PASSWORDS[login], role, hasher=FAST_HASHER)
    settings = FleetSection()
    key_for = key_lookup(TrustStore.load(centre.fleet.trust_store))
    inbox = Inbox(
        engine, CENTRE, key_for, centre_appliers(centre.outbox, None, FleetReports(settings)),
        acknowledge=centre_acknowledger(centre.outbox),
    )  # fmt: skip
    desk = FleetDesk(engine, centre.outbox, settings=settings)
    enrolment_settings = EnrolmentSettings(
        ca_dir=centre.fleet.root / "ca-KZ", crl_file=root / "crl.pem",
        trust_store=centre.fleet.trust_store,
    )  # fmt: skip
    enrolments = Enrolments(engine, centre.outbox, enrolment_settings)
    app = create_console(
        engine, ConsoleSettings(cookie_secure=False), inbox, centre_id=CENTRE, routing=ROUTING,
        hasher=FAST_HASHER, fleet_desk=desk, enrolments=enrolments,
    )  # fmt: skip
    fleet = FleetUnderTest(centre, desk, enrolments, inbox, app, root)
    seed(fleet)
    return fleet


@pytest.fixture
def fleet_console(centre: Centre, tmp_path: Path) -> FleetUnderTest:
    """On SQLite and PostgreSQL (the `centre` fixture's database_url)."""
    return make_fleet_console(centre, tmp_path)


@pytest.fixture
def client(fleet_console: FleetUnderTest) -> Iterator[TestClient]:
    with TestClient(fleet_console.app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def log_in(client: TestClient, login: str) -> str:
    """Log `login` in; the session's CSRF token."""
    response = client.post("/login", data={"login": login, "password": PASSWORDS[login]})
    assert response.status_code == 200, response.text
    return csrf_of(response.text)


# --- the browser's: a SQLite centre served by uvicorn on a loopback port ------------------------


@pytest.fixture
def sqlite_centre(tmp_path: Path, fleet: Fleet) -> Centre:
    engine = open_centre_database(f"sqlite:///{tmp_path / 'centre.sqlite3'}")
    box = Outbox(engine, Signer.load(fleet.nodes[CENTRE], CENTRE), [Route("*", "broker")])
    return Centre(engine, fleet, box, RecordDesk(engine, box, Routing(ROUTING)))


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: the test stops it."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


@dataclass
class Served:
    url: str
    fleet: FleetUnderTest


@pytest.fixture
def served(sqlite_centre: Centre, tmp_path: Path) -> Iterator[Served]:
    """The console on a loopback port. The socket listens before the server's thread starts,
    so the browser's first request waits in its backlog, never fails."""
    fleet = make_fleet_console(sqlite_centre, tmp_path)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(fleet.app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield Served(f"http://127.0.0.1:{port}", fleet)
    server.should_exit = True
    thread.join(30)
    sock.close()
    assert not thread.is_alive(), "the console's server did not stop"
