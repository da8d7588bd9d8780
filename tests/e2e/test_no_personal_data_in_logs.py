"""No name, document number, MRZ, PIN or note in any log line (issue 12, item 7): a box as it
runs (`carec-edge run` with its kiosk and the lane's devices on real ptys) goes through a truck
with personal data no other test uses: a driver's passport swiped whole and once cut short, an
officer who types a wrong PIN, then the PIN into the badge field, then logs in, and decides
with a free-text note. Every line the service wrote, and every log file under the test's
directory, is then searched for each piece of that data."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from drivers.mrz import check_digit
from edge.decisions import REASONS, lane_minimum
from edge.officers import OfficerStore, Role
from edge.risk import RiskLane
from edge.store import open_database
from provisioning.identity.fleet import make_fleet
from sync.broker_process import free_port
from tests.e2e.conftest import BrowserSession
from tests.e2e.crossing import CIS, NODE, Lane, box_config, expected_now, prepare_store, query
from tests.integration.service_process import CarecProcess

pytestmark = pytest.mark.e2e

SURNAME, GIVEN = "QUORBLEKOVA", "ZIMFIRA"
DOCUMENT = "QX7741250"
BIRTH, EXPIRY = "850315", "310921"
NOTE = "driver nervous, asked about QZNOTE-5521 twice"
OFFICER_ID, OFFICER_NAME = "ainur", "Айнұр Ырысбекқызы"
PIN, WRONG_PIN, PIN_AS_LOGIN = "80468024", "13572468", "97139713"


def _with_digit(field: str) -> str:
    digit = check_digit(field)
    assert digit is not None
    return field + digit


def passport() -> tuple[str, str]:
    """A TD3 passport of the test's driver, every check digit right."""
    first = f"P<KAZ{SURNAME}<<{GIVEN}".ljust(44, "<")
    number, birth = _with_digit(DOCUMENT), _with_digit(BIRTH)
    expiry, optional = _with_digit(EXPIRY), _with_digit("<" * 14)
    composite = check_digit(number + birth + expiry + optional)
    second = f"{number}KAZ{birth}F{expiry}{optional}{composite}"
    assert len(second) == 44
    return first, second


def secrets() -> dict[str, str]:
    first, second = passport()
    return {
        "surname": SURNAME,
        "given name": GIVEN,
        "document number": DOCUMENT,
        "MRZ line 1": first,
        "MRZ line 2": second,
        "MRZ name field": f"{SURNAME}<<{GIVEN}",
        "MRZ number field": second[:10],
        "note": NOTE,
        "note's marker": "QZNOTE-5521",
        "officer's name": OFFICER_NAME,
        "PIN": PIN,
        "wrong PIN": WRONG_PIN,
        "PIN typed as the login": PIN_AS_LOGIN,
    }


@pytest.fixture
def box(tmp_path: Path) -> Iterator[tuple[CarecProcess, str, Path, Lane]]:
    data = tmp_path / "data"
    record = expected_now(
        ref="26KZ00010000000777",
        driver={"name": f"{SURNAME} {GIVEN}", "document_number": DOCUMENT},
    )
    prepare_store(data, record)
    engine = open_database(data)
    OfficerStore(engine).create(OFFICER_ID, OFFICER_NAME, PIN, Role.OFFICER, "BADGE-0777")
    engine.dispose()
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
                ("device.health", "device=passport-1 ", "health=connected"),
                timeout=60,
            )
            yield service, f"http://127.0.0.1:{port}", data, lane
            assert service.stop() == 0
    finally:
        lane.close()


def failed_login(page: Page, url: str, login: str, pin: str) -> None:
    page.goto(f"{url}/login")
    page.fill("#login-id", login)
    page.fill("#login-pin", pin)
    with page.expect_navigation():
        page.click("#login-submit")
    expect(page.locator("#login-error")).to_be_visible()


def test_no_personal_data_reaches_any_log_line(
    box: tuple[CarecProcess, str, Path, Lane], session: BrowserSession, tmp_path: Path
) -> None:
    service, url, data, lane = box
    page = session.page
    first, second = passport()

    # The reader loses the end of the name line once (a reject, logged at WARNING), then reads
    # the whole passport.
    lane.ports["passport"].write(first[:40].encode() + b"\r\r")
    service.wait_log("device.reject", "device=passport-1", timeout=60)
    lane.passport_reader.swipe((first, second))
    service.wait_log("arrival.reading", "kind=document", timeout=60)
    [(arrival_id,)] = query(data, "SELECT id FROM arrivals")

    failed_login(page, url, OFFICER_ID, WRONG_PIN)
    service.wait_log("kiosk.login_failed", timeout=60)
    failed_login(page, url, PIN_AS_LOGIN, PIN_AS_LOGIN)  # the PIN typed into the badge field
    service.wait_log("kiosk.login_failed", timeout=60)
    page.fill("#login-id", OFFICER_ID)
    page.fill("#login-pin", PIN)
    with page.expect_navigation(url="**/queue"):
        page.click("#login-submit")

    page.goto(f"{url}/arrivals/{arrival_id}")
    expect(page.locator("#arrival-page")).to_have_attribute("data-arrival-id", str(arrival_id))
    kind = lane_minimum(RiskLane(str(page.locator("#risk").get_attribute("data-lane"))))
    page.check(f"#kind-{kind.value}")
    page.select_option("#decision-reason", REASONS[kind][0].value)
    page.fill("#decision-note", NOTE)
    with page.expect_navigation(url="**/queue?done=decided"):
        page.click("#decision-submit")
    service.wait_log("decision.stored", timeout=60)
    # The data went where it belongs: the store, not the logs.
    assert query(data, "SELECT note FROM decisions") == [(NOTE,)]
    assert service.stop() == 0

    logs = {"the service's stderr": service.whole_log()}  # shutdown's lines too
    logs |= {str(p): p.read_text(errors="replace") for p in tmp_path.rglob("*.log")}
    assert "decision.stored" in logs["the service's stderr"]
    assert "service.stopped" in logs["the service's stderr"], "the log was not read to its end"
    leaks = [
        f"{what} in {where}: {line.strip()[:200]}"
        for where, text in logs.items()
        for line in text.splitlines()
        for what, secret in secrets().items()
        if secret in line
    ]
    assert leaks == [], "\n".join(leaks)
