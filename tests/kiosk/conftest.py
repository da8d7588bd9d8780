"""A kiosk over a real SQLite store: two pre-arrival records, four officers, a fake clock."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

import pytest
from argon2 import PasswordHasher
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from edge.arrivals import ArrivalStore, Lanes
from edge.decisions import Decision
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import OfficerStore, Role
from edge.readings import PlateCandidate, PlateReading
from tests.fixtures.records import record
from ui_kiosk import KioskSettings, create_app
from ui_kiosk.store_backend import StoreBackend

T0 = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)  # the records' expected arrival
IDLE_MINUTES = 10
PINS = {"ivan": "1111", "sara": "2222", "tech": "3333", "olga": "4444"}


@dataclass
class FakeClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Kiosk:
    client: TestClient
    backend: StoreBackend
    lanes: Lanes
    officers: OfficerStore
    clock: FakeClock
    decided: list[Decision] = field(default_factory=list)

    def login(self, who: str, pin: str | None = None) -> str:
        """Log `who` in; this session's CSRF token."""
        response = self.client.post("/login", data={"login": who, "pin": pin or PINS[who]})
        assert response.status_code == 200, response.text
        return csrf_of(response.text)

    def arrive(self, plate: str = "777ABC02", lane: str = "1", confidence: float = 0.95) -> int:
        """A truck seen by lane `lane`'s camera; its arrival id."""
        reading = PlateReading("cam-1", T0, (PlateCandidate(plate, confidence, "tractor"),))
        arrival_id = self.lanes.on_reading(lane, reading)
        assert arrival_id is not None
        return arrival_id


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, "no CSRF token on the page"
    return found.group(1)


@pytest.fixture
def kiosk(engine: Engine, cache: ManifestCache) -> Iterator[Kiosk]:
    cache.upsert(
        [
            parse_manifest(record(ref="T1")),
            parse_manifest(
                record(
                    ref="T2",
                    transport={"plate": "А 555 МН 01", "nationality": "KZ"},
                    trailers=[],
                    seals=[{"id": "KZC7654321"}],
                    driver={"name": "ЖАННА ЩУКИНА", "document_number": "N7654321"},
                    tir_carnet="XA87654321",
                    cmr=None,
                )
            ),
        ]
    )
    officers = OfficerStore(engine, PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1))
    officers.create("ivan", "Ivan Petrov", PINS["ivan"], Role.OFFICER, badge="B-100")
    officers.create("sara", "Сара Ахметова", PINS["sara"], Role.SUPERVISOR, badge="B-200")
    officers.create("tech", "Tech Nik", PINS["tech"], Role.TECHNICIAN, badge="B-300")
    officers.create("olga", "Ольга Ким", PINS["olga"], Role.OFFICER, language="ru")
    lanes = Lanes(ArrivalStore(engine), Matcher(cache), idle_timeout=dt.timedelta(minutes=30))
    backend = StoreBackend(engine, lanes, officers=officers, lane_names=("1", "2"))
    clock = FakeClock()
    settings = KioskSettings(idle_timeout_minutes=IDLE_MINUTES)
    app = create_app(backend, settings, clock=clock)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        k = Kiosk(client, backend, lanes, officers, clock)
        backend.add_decision_listener(k.decided.append)
        yield k
    backend.close()
