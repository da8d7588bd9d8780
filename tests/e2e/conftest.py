"""Fixtures of the end-to-end tests: one Chromium per module, a fresh browser context per test,
and a kiosk process over a store with pre-arrival records and the demo officers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from edge.arrivals import ArrivalStore, Lanes
from edge.config import MatchingConfig
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import OfficerStore, Role
from edge.readings import PlateCandidate, PlateReading
from edge.store import open_database
from edge.timeutil import utcnow
from tests.e2e.browser import TIMEOUT_MS, Officer, Traffic, launch
from tests.e2e.crossing import expected_now, prepare_store, truck_record
from tests.e2e.processes import STOPPED, KioskProcess

# An officer of our own, whose language the tests may change without touching the demo's.
ALIYA = Officer("aliya", "BADGE-0100", "2468")


# Every wait in a page, `expect` too (its own default is 5 s), ends at its event or this deadline.
expect.set_options(timeout=TIMEOUT_MS)


# Per module, not per session: while Playwright's sync API is on, the main thread counts as
# running an event loop, and the tests collected after these call asyncio.run().
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


@dataclass
class BrowserSession:
    context: BrowserContext
    page: Page
    traffic: Traffic


@pytest.fixture
def session(browser: Browser) -> Iterator[BrowserSession]:
    """A fresh browser context (no cookies) with one page; every request it makes recorded."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    traffic = Traffic()
    context.on("request", traffic.on_request)
    page = context.new_page()
    page.on("console", traffic.on_console)
    yield BrowserSession(context, page, traffic)
    context.close()


class Arrivals:
    """Trucks arriving at lanes: plate reads attached by `Lanes.on_reading`, as the service
    attaches them, written to the store that `carec-edge kiosk` follows."""

    def __init__(self, data_dir: Path) -> None:
        self.engine = open_database(data_dir)
        matcher = Matcher(ManifestCache(self.engine), MatchingConfig())
        self.lanes = Lanes(ArrivalStore(self.engine), matcher, dt.timedelta(minutes=30))

    def arrive(self, plate: str, lane: str, confidence: float = 0.95) -> int:
        reading = PlateReading("cam-1", utcnow(), (PlateCandidate(plate, confidence, "tractor"),))
        arrival_id = self.lanes.on_reading(lane, reading)
        assert arrival_id is not None
        return arrival_id


@dataclass
class Kiosk:
    url: str
    data_dir: Path
    arrivals: Arrivals


@pytest.fixture(scope="module")
def kiosk(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Kiosk]:
    """`carec-edge kiosk --demo-officers` over a store holding two records and one more officer."""
    data = tmp_path_factory.mktemp("kiosk") / "data"
    prepare_store(
        data,
        truck_record(),
        expected_now(
            ref="26KZ00010000000456",
            transport={"plate": "А 555 МН 01", "nationality": "KZ"},
            trailers=[],
            seals=[{"id": "KZC7654321"}],
            tir_carnet="XA87654321",
            cmr=None,
        ),
    )
    engine = open_database(data)
    OfficerStore(engine).create("aliya", "Алия Серикова", ALIYA.pin, Role.OFFICER, ALIYA.badge)
    engine.dispose()
    with KioskProcess(data) as process:
        process.wait_ready()
        arrivals = Arrivals(data)
        yield Kiosk(process.url, data, arrivals)
        arrivals.engine.dispose()
        assert process.stop() in STOPPED
