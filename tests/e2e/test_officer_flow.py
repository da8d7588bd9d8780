"""The officer's story, end to end, on a box as it runs (`carec-edge run` serving the kiosk,
with the lane's devices on real ptys and a camera) and in Chromium: a truck comes through the
lane's camera and shows on the queue without a reload; the officer logs in with the badge,
opens it, reads the passport, the transit document and the e-seal through the devices and types
the mechanical seal with a keyboard-wedge scanner; decides as the lane requires; the decision
is stored, and waits in the outbox for the national system."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import expect

from edge.decisions import REASONS, lane_minimum
from edge.readings import SealState
from edge.risk import RiskLane
from provisioning.identity.fleet import make_fleet
from sync.broker_process import free_port
from tests.e2e.browser import DEMO, following_changes, log_in, screenshot
from tests.e2e.conftest import BrowserSession
from tests.e2e.crossing import (
    CIS,
    E_SEAL,
    LANE,
    MECHANICAL_SEAL,
    NODE,
    PASSPORT,
    PLATE,
    REF,
    TIR_CARNET,
    Lane,
    box_config,
    prepare_store,
    query,
    stored_readings,
    truck_record,
)
from tests.integration.service_process import CarecProcess

pytestmark = pytest.mark.e2e

SERIAL_DEVICES = ("scanner-1", "passport-1", "eseal-1")  # the camera waits for its video


@dataclass
class Box:
    url: str
    data_dir: Path
    lane: Lane


@pytest.fixture
def box(tmp_path: Path) -> Iterator[Box]:
    """`carec-edge run` with its kiosk, lane 3's devices, and sync towards the national system."""
    data = tmp_path / "data"
    prepare_store(data, truck_record(), demo_officers=True)
    fleet = make_fleet(tmp_path / "fleet", [NODE, CIS])
    lane = Lane(tmp_path)
    port = free_port()
    config = box_config(
        tmp_path / "box.toml", kiosk_port=port, devices=lane.device_tables(),
        identity_dir=fleet.nodes[NODE], trust_store=fleet.trust_store, ca_file=fleet.ca_bundle,
        cis_port=free_port(),
    )  # fmt: skip
    try:
        with CarecProcess(data, "run", config=config) as service:
            service.wait_logs(
                ("kiosk.serving", f"127.0.0.1:{port}"),
                *[("device.health", f"device={d} ", "health=connected") for d in SERIAL_DEVICES],
            )
            yield Box(f"http://127.0.0.1:{port}", data, lane)
            assert service.stop() == 0
    finally:
        lane.close()


def test_a_truck_seen_at_the_lane_is_checked_through_the_devices_and_decided(
    box: Box, session: BrowserSession
) -> None:
    page, lane = session.page, box.lane

    page.goto(f"{box.url}/login")
    expect(page.locator("#login-form")).to_be_visible()
    screenshot(page, "01-login")
    with following_changes(page):
        log_in(page, box.url, DEMO.badge, DEMO.pin)
    expect(page.locator("#queue-empty")).to_be_visible()
    page.evaluate("window.sameQueuePage = true")

    lane.drive_in()
    row = page.locator("[data-testid=queue-row]")
    expect(row).to_have_count(1, timeout=60_000)
    # plate recognition reads the camera's frames: the plate as read and the crop it came from
    expect(row.locator("[data-testid=queue-plate]")).to_have_text(PLATE, timeout=60_000)
    expect(row.locator("[data-testid=queue-plate-crop]")).to_be_visible()
    lane.camera_off()
    arrival_id = int(row.get_attribute("data-arrival-id") or 0)
    assert page.evaluate("window.sameQueuePage") is True, "the queue was loaded again, not updated"
    assert query(box.data_dir, "SELECT lane, opened_by FROM arrivals WHERE id = ?", arrival_id) == [
        (LANE, "camera")
    ]
    screenshot(page, "02-queue")

    with following_changes(page):
        page.click(f"#queue-open-{arrival_id}")
    expect(page.locator("#arrival-page")).to_have_attribute("data-arrival-id", str(arrival_id))
    readings = page.locator("#readings-list [data-testid=reading]")

    # Readings from the devices: each shows on the open page as its driver reports it.
    lane.passport_reader.swipe(PASSPORT)
    expect(readings.and_(page.locator("[data-kind=document]"))).to_contain_text("L898902C3")
    expect(page.locator("#record-ref")).to_contain_text(REF)
    lane.scanner.scan(TIR_CARNET, "pdf417")
    expect(readings.and_(page.locator("[data-what=transit]"))).to_contain_text(TIR_CARNET)
    lane.eseal_reader.report(E_SEAL, SealState.SEALED)
    expect(readings.and_(page.locator("[data-kind=seal]"))).to_contain_text(E_SEAL)

    # The mechanical seal's barcode, typed by a keyboard-wedge scanner into the focused field.
    assert page.evaluate("document.activeElement.id") == "scan-input"
    page.keyboard.type(MECHANICAL_SEAL)
    page.keyboard.press("Enter")
    expect(page.locator("#scan-result")).to_have_attribute("data-kind", "seal")
    expect(page.locator("#scan-result")).to_contain_text(MECHANICAL_SEAL)
    seals = readings.and_(page.locator("[data-what=seal]"))
    expect(seals.filter(has_text=MECHANICAL_SEAL)).to_have_count(1)
    expect(page.locator("#record-ref")).to_contain_text(REF)
    checks = "#discrepancy-list li[data-code^=SEAL_], #discrepancy-list li[data-code$=_MISMATCH]"
    expect(page.locator(checks)).to_have_count(0)
    screenshot(page, "03-truck")

    # The decision form is drawn when the page loads and live updates leave it as it was
    # (test_kiosk_rules: the decision choices follow the lane): load the page again.
    page.reload()
    risk = RiskLane(str(page.locator("#risk").get_attribute("data-lane")))
    assert risk is not RiskLane.RED, page.inner_text("#discrepancy-list")
    kind = lane_minimum(risk)
    reason = REASONS[kind][0]
    page.check(f"#kind-{kind.value}")
    page.select_option("#decision-reason", reason.value)
    page.fill("#decision-note", "e2e: checked at the booth")
    with page.expect_navigation(url="**/queue?done=decided"):
        page.click("#decision-submit")
    expect(page.locator("#flash")).to_be_visible()
    expect(page.locator(f"#queue-row-{arrival_id}")).to_have_count(0)
    screenshot(page, "04-decided-queue")
    page.goto(f"{box.url}/arrivals/{arrival_id}")
    expect(page.locator("#arrival-closed")).to_be_visible()
    expect(page.locator("#decision-history li")).to_have_attribute("data-kind", kind.value)
    screenshot(page, "05-decided-truck")

    decided = query(
        box.data_dir,
        "SELECT officer_id, kind, reason, note, manifest_ref, risk_lane, override FROM decisions"
        " WHERE arrival_id = ?",
        arrival_id,
    )
    assert decided == [
        ("demo", kind.value, reason.value, "e2e: checked at the booth", REF, risk.value, 0)
    ]
    assert query(box.data_dir, "SELECT close_reason FROM arrivals WHERE id = ?", arrival_id) == [
        ("decision",)
    ]
    by_device = {(r["device"], r["kind"]) for r in stored_readings(box.data_dir, arrival_id)}
    assert by_device >= {
        ("passport-1", "document"),
        ("scanner-1", "barcode"),
        ("eseal-1", "seal"),
        ("kiosk", "barcode"),
    }
    # The arrival goes to the CIS with its first decision (the centre's figures per lane).
    assert query(box.data_dir, "SELECT type, destination FROM outbox ORDER BY rowid") == [
        ("arrival", CIS), ("decision", CIS),
    ]  # fmt: skip
