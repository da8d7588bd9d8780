"""The fleet pages in a real browser (Debian's Chromium, headless, under Playwright), served by
uvicorn on a loopback port over a SQLite centre whose boxes reported through its real inbox:
the fleet in colour, one box's page (twin, charts, alerts), a fleet operator's command to one
box and to a selection, a twin refused with its reasons then sent, an enrolment approved, and
an auditor who reads all of it and can do none of it."""

from __future__ import annotations

import base64
import gzip
import io
import re
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, BrowserContext, Page, expect, sync_playwright

from edge.timeutil import utcnow
from sync.messages import CommandMessage, CommandResultMessage
from tests.centre.conftest import KORGAS, NURZHOLY, TORUGART
from tests.centre.console.conftest import ALTYNKOL, PASSWORDS, Served
from tests.e2e.browser import TIMEOUT_MS, Traffic, launch, screenshot

expect.set_options(timeout=TIMEOUT_MS)


# Per module: while Playwright's sync API is on, the main thread counts as running an event loop.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


class _Session:
    def __init__(self, context: BrowserContext, page: Page, traffic: Traffic) -> None:
        self.context, self.page, self.traffic = context, page, traffic
        # The statuses a test's pages answer on purpose (Chromium logs each as an error).
        self.expected_statuses: set[int] = set()

    def unexpected_errors(self) -> list[str]:
        return [
            error
            for error in self.traffic.console_errors
            if not any(f"status of {status} " in error for status in self.expected_statuses)
        ]


@pytest.fixture
def session(browser: Browser, served: Served) -> Iterator[_Session]:
    context = browser.new_context(viewport={"width": 1280, "height": 900}, accept_downloads=True)
    context.set_default_timeout(TIMEOUT_MS)
    traffic = Traffic()
    context.on("request", traffic.on_request)
    page = context.new_page()
    page.on("console", traffic.on_console)
    under_test = _Session(context, page, traffic)
    try:
        yield under_test
    finally:
        context.close()
    # Nothing loaded from elsewhere (no chart library), and no script error.
    assert traffic.foreign(served.url) == []
    assert under_test.unexpected_errors() == []


def log_in(page: Page, url: str, login: str, then: str = "/fleet") -> None:
    page.goto(f"{url}/login?next={then}")
    page.fill("#login-id", login)
    page.fill("#login-password", PASSWORDS[login])
    with page.expect_navigation(url=re.compile(re.escape(then) + "$")):
        page.click("#login-submit")


def test_the_fleet_in_colour_and_a_command_to_two_selected_boxes(
    session: _Session, served: Served
) -> None:
    page = session.page
    log_in(page, served.url, "farida")
    expect(page.locator(f"#box-{NURZHOLY}")).to_have_attribute("data-colour", "green")
    expect(page.locator(f"#box-{KORGAS}")).to_have_attribute("data-colour", "red")
    expect(page.locator(f"#box-{TORUGART}")).to_have_attribute("data-colour", "grey")
    expect(page.locator(f"#box-{KORGAS} .alerts")).to_have_text("1")
    expect(page.locator("#country-KG")).to_contain_text(TORUGART)
    expect(page.locator(f"#box-{NURZHOLY} .twin")).to_contain_text("rolled back")
    screenshot(page, "fleet-list")
    page.check(f"#select-{NURZHOLY}")
    page.check(f"#select-{KORGAS}")
    page.select_option("#bulk-action", "self_test")
    page.fill("#bulk-ttl", "30")
    with page.expect_navigation(url=re.compile(r"/fleet\?done=command&count=2$")):
        page.click("#bulk-command-button")
    expect(page.locator("#notice")).to_have_text("Command sent to 2 box(es).")
    fleet = served.fleet
    assert sorted(fleet.commands()) == [
        (KORGAS, "self_test", "farida", "sent"), (NURZHOLY, "self_test", "farida", "sent"),
    ]  # fmt: skip
    # In the centre's outbox, signed by the centre and verified as such, one per box.
    for node in (NURZHOLY, KORGAS):
        [command] = [e.payload for e in fleet.centre.sent(node) if e.type == "command"]
        assert isinstance(command, CommandMessage)
        assert (command.node, command.action, command.issued_by) == (node, "self_test", "farida")
        assert command.command_id in fleet.command_ids(node)
    # The same selection, a twin section for both: one new version each.
    page.check(f"#select-{NURZHOLY}")
    page.check(f"#select-{KORGAS}")
    page.select_option("#bulk-section", "retention")
    page.fill("#bulk-content", '{"evidence_days": 2000}')
    with page.expect_navigation(url=re.compile(r"/fleet\?done=twin&count=2$")):
        page.click("#bulk-twin-button")
    assert [e.type for e in fleet.centre.sent(KORGAS) if e.type == "twin_desired"] == [
        "twin_desired"
    ]
    expect(page.locator(f"#box-{KORGAS} .versions")).to_have_text("v1 / v0")
    expect(page.locator(f"#box-{NURZHOLY} .versions")).to_have_text("v2 / v0")


def test_a_box_page_its_twin_charts_and_alerts_a_command_and_its_diagnostics_bundle(
    session: _Session, served: Served
) -> None:
    page = session.page
    fleet = served.fleet
    log_in(page, served.url, "farida", then=f"/fleet/box/{NURZHOLY}")
    expect(page.locator("#twin-errors")).to_contain_text("Rolled back by the box, because:")
    expect(page.locator("#twin-errors")).to_contain_text("camera cam-1 disconnected")
    chart = page.locator("#chart-disk_used_pct svg polyline.line")
    expect(chart).to_have_count(1)
    assert len((chart.get_attribute("points") or "").split()) == 5
    expect(page.locator("#health-disk")).to_contain_text("44")
    screenshot(page, "fleet-box")
    # A command: diagnostics, for a quarter of an hour.
    page.select_option("#command-action", "diagnostics")
    page.fill("#command-ttl", "15")
    with page.expect_navigation(url=re.compile(rf"/fleet/box/{NURZHOLY}\?done=command")):
        page.click("#command-submit")
    [command_id] = fleet.command_ids(NURZHOLY)
    row = page.locator(f"#command-{command_id}")
    expect(row.locator(".outcome")).to_contain_text("sent")
    [sent] = [e.payload for e in fleet.centre.sent(NURZHOLY) if e.type == "command"]
    assert isinstance(sent, CommandMessage)
    assert (sent.command_id, sent.action) == (command_id, "diagnostics")
    # The box answers (signed, through the real inbox) with its bundle; the page offers it.
    bundle = io.BytesIO()
    with tarfile.open(fileobj=bundle, mode="w:gz") as tar:
        data = b"service: ok\n"
        info = tarfile.TarInfo("state.txt")
        info.size = len(data)
        tar.addfile(info, io.BytesIO(data))
    fleet.report(NURZHOLY, [
        CommandResultMessage(
            command_id=command_id, node=NURZHOLY, action="diagnostics", outcome="done",
            output="bundle of 1 file", attachment=base64.b64encode(bundle.getvalue()).decode(),
            finished_at=utcnow(),
        )
    ])  # fmt: skip
    page.reload()
    expect(row.locator(".outcome")).to_contain_text("done")
    with page.expect_download() as download_info:
        page.click(f"#attachment-{command_id}")
    path = download_info.value.path()
    assert path is not None
    with tarfile.open(fileobj=io.BytesIO(gzip.decompress(Path(path).read_bytes()))) as tar:
        assert tar.getnames() == ["state.txt"]
    # Korgas: its open alert, with its reason.
    page.goto(f"{served.url}/fleet/box/{KORGAS}")
    expect(page.locator("#alerts .alert-open")).to_contain_text("disk 96.5% used, over 90%")
    expect(page.locator("#box-title")).to_have_attribute("data-colour", "red")


def test_a_twin_refused_with_its_reasons_then_sent_as_a_new_version(
    session: _Session, served: Served
) -> None:
    page = session.page
    session.expected_statuses = {422}  # the twin refused, its reasons on the page
    log_in(page, served.url, "farida", then=f"/fleet/box/{NURZHOLY}")
    expect(page.locator("#twin-desired-version")).to_have_text("1")
    page.fill("#section-matching", '{"min_score": 2, "min_scroe": 0.1}')
    page.fill("#section-lanes", '{"default_lane": ')
    page.click("#twin-submit")
    problems = page.locator("#problems")
    expect(problems).to_contain_text("lanes: not JSON")
    page.fill("#section-lanes", "")
    page.click("#twin-submit")
    expect(problems).to_contain_text("matching.min_score: ")
    expect(problems).to_contain_text("matching.min_scroe: unknown key")
    # What was typed stays for mending.
    expect(page.locator("#section-matching")).to_have_value('{"min_score": 2, "min_scroe": 0.1}')
    expect(page.locator("#twin-desired-version")).to_have_text("1")
    page.fill("#section-matching", '{"min_score": 0.65}')
    with page.expect_navigation(url=re.compile(r"\?done=twin")):
        page.click("#twin-submit")
    expect(page.locator("#twin-desired-version")).to_have_text("2")
    expect(page.locator("#notice")).to_have_text("Configuration version 2 sent to the box.")
    expect(page.locator("#audit tbody tr").first).to_contain_text("version 2: matching")
    desired = [e.payload for e in served.fleet.centre.sent(NURZHOLY) if e.type == "twin_desired"]
    assert [d.model_dump()["version"] for d in desired] == [1, 2]


def test_a_fleet_operator_approves_the_box_whose_code_matches(
    session: _Session, served: Served
) -> None:
    page = session.page
    log_in(page, served.url, "farida")
    row = page.locator(f"#pending-{ALTYNKOL}")
    expect(row.locator(".enrolment-code")).to_have_text(served.fleet.altynkol_code)
    with page.expect_navigation(url=re.compile(r"/fleet\?done=approved$")):
        page.click(f"#approve-{ALTYNKOL}")
    expect(page.locator("#pending-empty")).to_be_visible()
    expect(page.locator(f"#box-{ALTYNKOL}")).to_contain_text("enrolled")
    assert served.fleet.enrolments.state_of(ALTYNKOL) == "enrolled"
    [entry] = [r for r in served.fleet.audit_rows() if r[1] == "fleet.approve"]
    assert entry[0] == "farida"
    assert served.fleet.altynkol_code in entry[4]


def test_an_auditor_reads_every_fleet_page_without_a_form_and_a_forged_post_is_refused(
    session: _Session, served: Served
) -> None:
    page = session.page
    log_in(page, served.url, "anton")
    expect(page.locator("#operator-role")).to_have_text("auditor")
    expect(page.locator(f"#box-{NURZHOLY}")).to_have_attribute("data-colour", "green")
    expect(page.locator(f"#pending-{ALTYNKOL}")).to_contain_text(served.fleet.altynkol_code)
    expect(page.locator("#bulk-form")).to_have_count(0)
    expect(page.locator("input[type=checkbox]")).to_have_count(0)
    expect(page.locator(f"#approve-{ALTYNKOL}")).to_have_count(0)
    expect(page.locator("#nav-quarantine")).to_have_count(0)
    page.click(f"#box-{NURZHOLY} a")
    expect(page.locator("#chart-disk_used_pct svg")).to_be_visible()
    for form in ("#twin-form", "#command-form", "#revoke-form"):
        expect(page.locator(form)).to_have_count(0)
    expect(page.locator("#desired-matching")).to_contain_text('"min_score": 0.5')
    # A forged form, with the session's own CSRF token (from the language form of the page).
    token = page.locator("input[name=csrf_token]").first.input_value()
    response = page.request.post(
        f"{served.url}/fleet/box/{NURZHOLY}/command",
        form={"csrf_token": token, "action": "reboot", "ttl_minutes": "60"},
    )
    assert response.status == 403
    assert 'data-code="not_allowed"' in response.text()
    assert served.fleet.commands() == []
    assert served.fleet.audit_rows()[-1] == (
        "anton",
        "refused",
        f"POST /fleet/box/{NURZHOLY}/command",
        "",
        "refused: role auditor",
    )
    page.click("#nav-audit")
    expect(page.locator("#audit tbody tr").first).to_contain_text("refused: role auditor")
