"""The console in a real browser (Debian's Chromium, headless, under Playwright), served by
uvicorn on a loopback port over a SQLite centre: an operator logs in and discards a message
the centre's inbox quarantined, with a reason that lands in the audit."""

from __future__ import annotations

import contextlib
import re
import socket
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from playwright.sync_api import Browser, expect, sync_playwright

from centre.records import RecordDesk
from centre.routing import Routing
from centre.store import open_centre_database
from provisioning.identity.fleet import Fleet
from sync.outbox import Outbox, Route, Signer
from tests.centre.conftest import CENTRE, ROUTING, Centre
from tests.centre.console_helpers import (
    PASSWORDS,
    console_app,
    quarantine_bad_signature,
)
from tests.e2e.browser import TIMEOUT_MS, Traffic, launch

expect.set_options(timeout=TIMEOUT_MS)


# Per module: while Playwright's sync API is on, the main thread counts as running an event loop.
@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


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


@pytest.fixture
def served(sqlite_centre: Centre) -> Iterator[str]:
    """The console on a loopback port; its base URL. The socket listens before the server's
    thread starts, so the browser's first request waits in its backlog, never fails."""
    app, _inbox, _review = console_app(sqlite_centre)
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(30)
    sock.close()
    assert not thread.is_alive(), "the console's server did not stop"


def test_an_operator_logs_in_and_discards_a_quarantined_message_with_a_reason(
    browser: Browser, served: str, sqlite_centre: Centre, tmp_path: Path
) -> None:
    item = quarantine_bad_signature(sqlite_centre, tmp_path / "box")
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(TIMEOUT_MS)
    traffic = Traffic()
    context.on("request", traffic.on_request)
    page = context.new_page()
    page.on("console", traffic.on_console)
    try:
        page.goto(f"{served}/quarantine")
        expect(page).to_have_url(re.compile(r"/login\?next=/quarantine$"))
        page.fill("#login-id", "olga")
        page.fill("#login-password", PASSWORDS["olga"])
        with page.expect_navigation(url=re.compile(r"/quarantine$")):
            page.click("#login-submit")
        row = page.locator(f"#quarantine-{item}")
        expect(row).to_contain_text("bad_signature")
        with page.expect_navigation(url=re.compile(rf"/quarantine/{item}$")):
            row.locator("a").click()
        expect(page.locator("#item-reason")).to_have_text("bad_signature")
        expect(page.locator("#part-0-payload")).to_contain_text('"type": "arrival"')
        # The reason is required: the browser will not send the form without one.
        assert page.locator("#discard-reason").evaluate("field => field.validity.valueMissing")
        page.fill("#discard-reason", "tampered in transit; the box resent it")
        with page.expect_navigation(url=re.compile(rf"/quarantine\?discarded={item}$")):
            page.click("#discard-button")
        expect(page.locator("#notice")).to_have_text(f"Message {item} discarded.")
        expect(page.locator("#quarantine-empty")).to_be_visible()
        page.click("#nav-audit")
        entry = page.locator("#audit tbody tr").first
        expect(entry).to_contain_text("quarantine.discard")
        expect(entry).to_contain_text("tampered in transit; the box resent it")
        expect(entry).to_contain_text("olga")
    finally:
        context.close()
    assert traffic.foreign(served) == []
    assert traffic.console_errors == []
