"""The kiosk's rules, one test each, in Chromium against `carec-edge kiosk` over a real store:
nothing is loaded from anywhere else, no page without a session, no decision without the
session's CSRF token or the right role, Russian stays Russian, and the keyboard alone does it."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.e2e.browser import (
    DEMO,
    DEMO_SUPERVISOR,
    DEMO_TECHNICIAN,
    csrf_token,
    following_changes,
    log_in,
)
from tests.e2e.conftest import ALIYA, BrowserSession, Kiosk
from tests.e2e.crossing import PASSPORT, REF, query

pytestmark = pytest.mark.e2e

MATCHING_PLATE = "777ABC02"  # the record's tractor, read well: a green truck
UNKNOWN_PLATE = "999ZZZ99"  # no record: a red truck
RELEASE = {"kind": "release", "reason": "DOCUMENTS_IN_ORDER"}
NOTE = "driver asked to wait at bay 2"

# fetch() from inside the page: same origin, so the session cookie goes with it.
POST_JSON = """async ([path, body, headers]) => {
  const response = await fetch(path, {
    method: "POST", body: JSON.stringify(body),
    headers: Object.assign({"Content-Type": "application/json"}, headers),
  });
  return {status: response.status, body: await response.json()};
}"""


def post_json(page: Page, path: str, body: dict[str, Any], headers: dict[str, str]) -> Any:
    return page.evaluate(POST_JSON, [path, body, headers])


def decisions_of(kiosk: Kiosk, arrival_id: int) -> list[tuple[Any, ...]]:
    return query(kiosk.data_dir, "SELECT officer_id, kind, override FROM decisions WHERE arrival_id = ?", arrival_id)  # fmt: skip


def test_no_page_requests_anything_but_the_kiosk_itself(
    kiosk: Kiosk, session: BrowserSession
) -> None:
    page, traffic = session.page, session.traffic
    page.goto(f"{kiosk.url}/login?lang=zh")
    page.click("#login-lang-ru")
    expect(page.locator("html")).to_have_attribute("lang", "ru")
    with following_changes(page):
        log_in(page, kiosk.url, DEMO_SUPERVISOR.id, DEMO_SUPERVISOR.pin)
    expect(page.locator("#status-corner [data-testid=corner-sync]")).to_be_visible()
    with page.expect_response("**/queue/rows"):  # the live queue follows a new truck
        arrival_id = kiosk.arrivals.arrive(MATCHING_PLATE, lane="11")
    page.click(f"#queue-open-{arrival_id}")
    page.locator("#scan-input").fill("KZC1234567")
    with page.expect_response(f"**/arrivals/{arrival_id}/scan"):
        page.locator("#scan-input").press("Enter")
    page.click("#search-link")
    page.fill("#search-input", "777 ABC 02")
    page.click("#search-submit")
    expect(page.locator("[data-testid=search-hit]").first).to_be_visible()
    for path in ("/status", "/report", "/arrivals/99999", "/openapi.json", "/queue"):
        page.goto(f"{kiosk.url}{path}")
    page.click("#logout-button")
    expect(page.locator("#login-form")).to_be_visible()

    assert traffic.foreign(kiosk.url) == []
    assert not [e for e in traffic.console_errors if "Content Security Policy" in e]
    assert {"/static/htmx.min.js", "/static/kiosk.js", "/static/kiosk.css", "/events",
            "/corner", "/queue/rows", "/search", "/logout"} <= traffic.paths()  # fmt: skip


@pytest.mark.parametrize(
    "path", ["/", "/queue", "/arrivals/1", "/search?q=777", "/status", "/report"]
)
def test_a_page_without_a_session_goes_to_the_login(
    kiosk: Kiosk, session: BrowserSession, path: str
) -> None:
    page = session.page
    response = page.goto(f"{kiosk.url}{path}")
    assert response is not None
    assert response.request.redirected_from is not None, "not redirected"
    expect(page.locator("#login-form")).to_be_visible()
    expect(page.locator("#nav-queue")).to_have_count(0)
    landing = path.split("?")[0]
    assert page.url.startswith(f"{kiosk.url}/login"), page.url
    if landing != "/":
        assert f"next={landing}" in page.url, page.url
        log_in(page, kiosk.url, DEMO.id, DEMO.pin, then=landing)  # and back where it was


def test_an_ended_session_no_longer_opens_pages_or_the_api(
    kiosk: Kiosk, session: BrowserSession
) -> None:
    page, context = session.page, session.context
    for path in ("/api/queue", "/api/me", "/events", "/openapi.json"):
        assert context.request.get(f"{kiosk.url}{path}").status == 401, path
    log_in(page, kiosk.url, DEMO.id, DEMO.pin)
    assert context.request.get(f"{kiosk.url}/api/queue").status == 200
    kept = context.cookies()
    page.click("#logout-button")
    expect(page.locator("#login-form")).to_be_visible()
    # The old cookie, kept: the server has ended its session.
    context.add_cookies([{"name": c["name"], "value": c["value"], "url": kiosk.url} for c in kept])
    assert context.request.get(f"{kiosk.url}/api/queue").status == 401
    page.goto(f"{kiosk.url}/queue")
    expect(page.locator("#login-form")).to_be_visible()


def test_a_decision_without_the_sessions_csrf_token_is_refused(
    kiosk: Kiosk, session: BrowserSession
) -> None:
    page = session.page
    arrival_id = kiosk.arrivals.arrive(MATCHING_PLATE, lane="12")
    log_in(page, kiosk.url, DEMO.id, DEMO.pin)
    with following_changes(page):
        page.goto(f"{kiosk.url}/arrivals/{arrival_id}")
    token = csrf_token(page)
    path = f"/api/arrivals/{arrival_id}/decision"

    assert post_json(page, path, RELEASE, {}) == {
        "status": 403,
        "body": {"error": "csrf", "detail": "no valid CSRF token"},
    }
    refused = post_json(page, path, RELEASE, {"X-CSRF-Token": token[::-1]})
    assert (refused["status"], refused["body"]["error"]) == (403, "csrf")
    # The truck's own form, its token taken out: the page says why.
    page.locator("#decision-form input[name=csrf_token]").evaluate("input => input.remove()")
    page.check("#kind-release")
    page.select_option("#decision-reason", "DOCUMENTS_IN_ORDER")
    page.click("#decision-submit")
    expect(page.locator("#error-page")).to_have_attribute("data-code", "csrf")
    assert decisions_of(kiosk, arrival_id) == []

    page.goto(f"{kiosk.url}/arrivals/{arrival_id}")
    decided = post_json(page, path, RELEASE, {"X-CSRF-Token": token})
    assert (decided["status"], decided["body"]["kind"]) == (201, "release")
    assert decisions_of(kiosk, arrival_id) == [("demo", "release", 0)]


def test_a_decision_by_the_wrong_role_is_refused(kiosk: Kiosk, session: BrowserSession) -> None:
    page = session.page
    red = kiosk.arrivals.arrive(UNKNOWN_PLATE, lane="13")
    path = f"/api/arrivals/{red}/decision"

    log_in(page, kiosk.url, DEMO_TECHNICIAN.badge, DEMO_TECHNICIAN.pin, then="/status")
    expect(page.locator("#nav-queue")).to_have_count(0)
    refused = post_json(page, path, RELEASE, {"X-CSRF-Token": csrf_token(page)})
    assert (refused["status"], refused["body"]["error"]) == (403, "not_allowed")
    page.goto(f"{kiosk.url}/arrivals/{red}")
    expect(page.locator("#error-page")).to_have_attribute("data-code", "not_allowed")
    page.click("#logout-button")

    log_in(page, kiosk.url, DEMO.id, DEMO.pin)  # an officer, below a red lane's minimum
    page.goto(f"{kiosk.url}/arrivals/{red}")
    expect(page.locator("#risk")).to_have_attribute("data-lane", "red")
    expect(page.locator("#kind-release")).to_be_disabled()
    refused = post_json(page, path, RELEASE, {"X-CSRF-Token": csrf_token(page)})
    assert (refused["status"], refused["body"]) == (
        403,
        {"error": "needs_supervisor", "detail": "physical_inspection"},
    )
    assert decisions_of(kiosk, red) == []
    page.click("#logout-button")

    log_in(page, kiosk.url, DEMO_SUPERVISOR.id, DEMO_SUPERVISOR.pin)  # may go below it
    page.goto(f"{kiosk.url}/arrivals/{red}")
    decided = post_json(page, path, RELEASE, {"X-CSRF-Token": csrf_token(page)})
    assert (decided["status"], decided["body"]["override"]) == (201, True)
    assert decisions_of(kiosk, red) == [("demo-supervisor", "release", 1)]


def test_an_officer_who_chose_russian_keeps_russian(kiosk: Kiosk, session: BrowserSession) -> None:
    page = session.page
    log_in(page, kiosk.url, ALIYA.badge, ALIYA.pin)
    expect(page.locator("#nav-queue")).to_contain_text("Queue")
    page.select_option("#language-select", "ru")
    with page.expect_navigation(url="**/queue?done=language"):
        page.click("#language-submit")

    def russian() -> None:
        expect(page.locator("html")).to_have_attribute("lang", "ru")
        expect(page.locator("h1")).to_have_text("Грузовики, ожидающие решения")
        expect(page.locator("#nav-queue")).to_contain_text("Очередь")
        expect(page.locator("#logout-button")).to_contain_text("Выйти")

    russian()
    page.reload()
    russian()
    assert query(kiosk.data_dir, "SELECT language FROM officers WHERE id = 'aliya'") == [("ru",)]
    page.click("#logout-button")
    expect(page.locator("#login-submit")).to_have_text("Log in")  # nobody's language yet
    log_in(page, kiosk.url, ALIYA.id, ALIYA.pin)
    russian()


def test_an_officer_logs_in_opens_a_truck_and_decides_with_the_keyboard_alone(
    kiosk: Kiosk, session: BrowserSession
) -> None:
    page, keyboard = session.page, session.page.keyboard
    arrival_id = kiosk.arrivals.arrive(MATCHING_PLATE, lane="14")
    page.goto(f"{kiosk.url}/login")
    expect(page.locator("#login-id")).to_be_focused()  # autofocus: once the page is drawn
    keyboard.type(DEMO.badge)
    keyboard.press("Tab")
    keyboard.type(DEMO.pin)
    with page.expect_navigation(url="**/queue"):
        keyboard.press("Enter")

    key = page.locator(f"#queue-open-{arrival_id}").get_attribute("data-key")
    assert key is not None, "the truck has no Alt shortcut on the queue"
    with following_changes(page), page.expect_navigation(url=f"**/arrivals/{arrival_id}"):
        keyboard.press(f"Alt+Digit{key}")
    expect(page.locator("#risk")).to_have_attribute("data-lane", "green")
    expect(page.locator("#scan-input")).to_be_focused()
    keyboard.press("Alt+Digit1")  # release
    expect(page.locator("#kind-release")).to_be_checked()
    keyboard.press("Alt+Digit5")  # the reason list; the first reason of a release
    assert page.evaluate("document.activeElement.id") == "decision-reason"
    keyboard.press("ArrowDown")
    expect(page.locator("#decision-reason")).to_have_value("DOCUMENTS_IN_ORDER")
    with page.expect_navigation(url="**/queue?done=decided"):
        keyboard.press("Alt+KeyV")
    expect(page.locator("#flash")).to_be_visible()
    assert decisions_of(kiosk, arrival_id) == [("demo", "release", 0)]


def test_the_decision_choices_follow_the_lane_as_the_truck_is_checked(
    kiosk: Kiosk, session: BrowserSession
) -> None:
    page = session.page
    arrival_id = kiosk.arrivals.lanes.open("15")  # opened by hand: no record yet, red
    log_in(page, kiosk.url, DEMO.id, DEMO.pin)
    with following_changes(page):
        page.goto(f"{kiosk.url}/arrivals/{arrival_id}")
    expect(page.locator("#kind-documentary_check")).to_be_disabled()
    expect(page.locator("#kind-release")).to_be_disabled()
    # The officer picks what the red lane allows and starts a note before the passport is read.
    page.check("#kind-physical_inspection")
    page.fill("#decision-note", NOTE)
    page.focus("#scan-input")
    for line in PASSPORT:  # a passport reader in keyboard mode: each line, then Enter
        page.keyboard.type(line)
        page.keyboard.press("Enter")
    expect(page.locator("#scan-result")).to_have_attribute("data-kind", "document")
    expect(page.locator("#record-ref")).to_contain_text(REF)
    # The passport alone fits the record (no plate read yet does not count against it): green,
    # and the choices the red lane barred are open now, without a reload.
    expect(page.locator("#risk")).to_have_attribute("data-lane", "green")
    expect(page.locator("#kind-documentary_check")).to_be_enabled()
    expect(page.locator("#kind-release")).to_be_enabled()
    # New choices, and the one the officer had made is still made.
    expect(page.locator("#kind-physical_inspection")).to_be_checked()
    expect(page.locator("#decision-note")).to_have_value(NOTE)


def test_the_officers_choice_survives_every_live_refresh_of_the_truck(
    kiosk: Kiosk, session: BrowserSession
) -> None:
    page = session.page
    arrival_id = kiosk.arrivals.arrive(MATCHING_PLATE, lane="16")
    log_in(page, kiosk.url, DEMO.id, DEMO.pin)
    with following_changes(page):
        page.goto(f"{kiosk.url}/arrivals/{arrival_id}")
    expect(page.locator("#risk")).to_have_attribute("data-lane", "green")
    page.check("#kind-documentary_check")
    page.select_option("#decision-reason", "DISCREPANCY_TO_CLARIFY")
    page.fill("#decision-note", NOTE)
    page.focus("#kind-documentary_check")
    readings = page.locator("#readings-list [data-testid=reading]")
    seen = readings.count()
    refreshed = f"/arrivals/{arrival_id}/live"
    for vote in range(1, 4):  # the camera votes again, and again: each a live refresh
        with page.expect_response(lambda response: response.url.endswith(refreshed)):
            assert kiosk.arrivals.arrive(MATCHING_PLATE, lane="16") == arrival_id
        expect(readings).to_have_count(seen + vote)
        expect(page.locator("#kind-documentary_check")).to_be_checked()
    expect(page.locator("#decision-reason")).to_have_value("DISCREPANCY_TO_CLARIFY")
    expect(page.locator("#decision-note")).to_have_value(NOTE)
    expect(page.locator("#kind-documentary_check")).to_be_focused()
    # Decided with what was chosen before the refreshes.
    with page.expect_navigation(url="**/queue?done=decided"):
        page.click("#decision-submit")
    assert decisions_of(kiosk, arrival_id) == [("demo", "documentary_check", 0)]
