"""The kiosk's technician sees the box's fleet management on the status page, as `carec-edge
fleet status` shows it (handed in by the wiring); an officer does not."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient

from edge.arrivals import ArrivalStore, Lanes
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import OfficerStore, Role
from edge.service.fleet_agent import kiosk_view
from provisioning.fleet.status import fleet_status
from tests.provisioning.fleet_box import BOX, command, make_box, twin
from ui_kiosk import KioskSettings, create_app
from ui_kiosk.store_backend import StoreBackend


def test_the_technician_sees_enrolment_twin_and_waiting_commands(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    box.send(twin(2, {"lanes": {"idle_timeout_minutes": 45}}))
    waiting = command("diagnostics")
    box.send(waiting)
    officers = OfficerStore(
        box.engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )
    officers.create("tech", "Tech Nik", "3333", Role.TECHNICIAN)
    officers.create("ivan", "Ivan", "1111", Role.OFFICER)
    lanes = Lanes(
        ArrivalStore(box.engine), Matcher(ManifestCache(box.engine)), dt.timedelta(minutes=30)
    )
    backend = StoreBackend(box.engine, lanes, officers=officers)
    backend.fleet_source = lambda: kiosk_view(
        fleet_status(box.engine, box.fleet.nodes[BOX], "KZ-CIS")
    )
    try:
        with TestClient(create_app(backend, KioskSettings()), base_url="http://127.0.0.1") as web:
            assert web.post("/login", data={"login": "tech", "pin": "3333"}).status_code == 200
            technician = web.get("/status").text
            web.post("/logout")
        with TestClient(create_app(backend, KioskSettings()), base_url="http://127.0.0.1") as web:
            assert web.post("/login", data={"login": "ivan", "pin": "1111"}).status_code == 200
            officer = web.get("/status").text
    finally:
        backend.close()

    panel = technician[technician.index('data-testid="fleet-status"') :]
    assert 'data-testid="fleet-enrolled">yes' in panel
    twin_line = panel[panel.index('data-testid="fleet-twin"') :]
    assert twin_line[: twin_line.index("</dd>")].split(">", 1)[1].split() == [
        "0", "applied", "·", "latest", "2:", "applying",
    ]  # fmt: skip
    assert 'data-testid="fleet-pending">1<' in panel
    assert f"diagnostics · {waiting.command_id}" in panel
    assert 'data-testid="device-status"' in officer  # the page, without the fleet panel
    assert 'data-testid="fleet-status"' not in officer
