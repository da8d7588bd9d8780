"""The kiosk learns the outbox's state from the sync room's `SyncStatusSource`, handed in by
the wiring, not by reading sync's tables: what the broker refused shows there with its reason."""

from __future__ import annotations

import asyncio
import datetime as dt
from pathlib import Path

from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from edge.arrivals import ArrivalStore, Lanes
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import OfficerStore, Role
from provisioning.identity.fleet import make_fleet
from sync.outbox import Outbox, Route, Signer
from sync.status import OutboxStatus
from tests.sync.crossing import ENTRY, EXIT
from tests.sync.test_sync_link import exit_confirmation
from ui_kiosk import KioskSettings, create_app
from ui_kiosk.store_backend import StoreBackend


def test_the_kiosk_shows_what_the_broker_refused_with_its_reason(
    engine: Engine, tmp_path: Path
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    box = Outbox(engine, Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")])
    refused, *_ = box.send_many([(exit_confirmation(f"K{i}"), ENTRY, None) for i in range(3)])
    box.take("hub", 1)
    box.refused([refused], "hub", 0x97, "Quota exceeded")
    lanes = Lanes(
        ArrivalStore(engine), Matcher(ManifestCache(engine)), idle_timeout=dt.timedelta(minutes=30)
    )
    backend = StoreBackend(engine, lanes, peers=list, sync_source=OutboxStatus(box))
    try:
        status = asyncio.run(backend.sync_status())
    finally:
        backend.close()

    assert (status.outbox_waiting, status.outbox_refused, status.outbox_unconfirmed) == (2, 1, 0)
    (stuck,) = status.stuck
    assert (stuck.id, stuck.reason, stuck.refusals) == (refused, "0x97 Quota exceeded", 1)
    assert stuck.retry_at is not None


def test_without_sync_the_kiosk_shows_nothing_waiting(engine: Engine) -> None:
    lanes = Lanes(
        ArrivalStore(engine), Matcher(ManifestCache(engine)), idle_timeout=dt.timedelta(minutes=30)
    )
    backend = StoreBackend(engine, lanes)
    try:
        status = asyncio.run(backend.sync_status())
    finally:
        backend.close()
    assert (status.configured, status.outbox_waiting, status.stuck) == (False, 0, [])


def test_the_technician_sees_a_stuck_message_with_the_brokers_reason_on_the_status_page(
    engine: Engine, tmp_path: Path
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    box = Outbox(engine, Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")])
    (refused,) = box.send_many([(exit_confirmation("K1"), ENTRY, None)])
    box.take("hub", 1)
    box.refused([refused], "hub", 0x87, "Not authorized")
    officers = OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    officers.create("tech", "Tech Nik", "3333", Role.TECHNICIAN)
    lanes = Lanes(
        ArrivalStore(engine), Matcher(ManifestCache(engine)), idle_timeout=dt.timedelta(minutes=30)
    )
    backend = StoreBackend(
        engine, lanes, officers=officers, peers=list, sync_source=OutboxStatus(box)
    )
    try:
        with TestClient(create_app(backend, KioskSettings()), base_url="http://127.0.0.1") as web:
            assert web.post("/login", data={"login": "tech", "pin": "3333"}).status_code == 200
            page = web.get("/status")
    finally:
        backend.close()

    assert page.status_code == 200
    table = page.text[page.text.index('data-testid="stuck-messages"') :]
    row = table[table.index('data-testid="stuck-row"') :]
    row = row[: row.index("</tr>")]
    assert refused in row
    assert "0x87 Not authorized" in row
    assert ENTRY in row
