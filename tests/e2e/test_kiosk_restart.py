"""A restart of the kiosk (the watchdog's, an update's) in the middle of a truck: the officer
stays logged in, and the decision they had prepared on the open page goes through."""

from __future__ import annotations

import hashlib

import pytest
from playwright.sync_api import expect

from tests.e2e.browser import DEMO, following_changes, log_in
from tests.e2e.conftest import Arrivals, BrowserSession
from tests.e2e.crossing import prepare_store, query, truck_record
from tests.e2e.processes import STOPPED, KioskProcess

pytestmark = pytest.mark.e2e


def test_an_officer_mid_truck_stays_logged_in_across_a_kiosk_restart(
    tmp_path_factory: pytest.TempPathFactory, session: BrowserSession
) -> None:
    data = tmp_path_factory.mktemp("restart") / "data"
    prepare_store(data, truck_record())
    page = session.page
    with KioskProcess(data) as first:
        first.wait_ready()
        arrivals = Arrivals(data)
        arrival_id = arrivals.arrive("777ABC02", lane="1")
        arrivals.engine.dispose()
        log_in(page, first.url, DEMO.badge, DEMO.pin)
        with following_changes(page):
            page.goto(f"{first.url}/arrivals/{arrival_id}")
        page.check("#kind-release")
        page.select_option("#decision-reason", "DOCUMENTS_IN_ORDER")
        page.fill("#decision-note", "checked before the restart")
        assert first.stop() in STOPPED

    with KioskProcess(data, port=first.port) as second:  # the same address, a new process
        second.wait_ready()
        with page.expect_navigation(url="**/queue?done=decided"):
            page.click("#decision-submit")  # the page's session and CSRF token still hold
        expect(page.locator("#flash")).to_be_visible()
        expect(page.locator("#logout-button")).to_be_visible()  # logged in, not at the login
        page.goto(f"{second.url}/queue")
        expect(page.locator("#login-form")).to_have_count(0)
        assert second.stop() in STOPPED
    decided = query(data, "SELECT officer_id, kind FROM decisions WHERE arrival_id = ?", arrival_id)
    assert decided == [("demo", "release")]
    # Only a hash of the cookie's token is stored.
    (cookie,) = [
        c["value"] for c in session.context.cookies() if c["name"] == "carec_kiosk_session"
    ]
    stored = query(data, "SELECT id FROM kiosk_sessions")
    assert stored == [(hashlib.sha256(cookie.encode()).hexdigest(),)]
