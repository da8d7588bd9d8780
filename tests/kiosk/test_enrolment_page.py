"""The kiosk's screen of a box not enrolled yet, in Chromium: the code in large letters, a QR
code that zbar reads back as node id and code, the state; a refused box's screen names the
operator's reason (escaped) and stops reloading. Served as `fleet enrol --kiosk` serves it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, expect, sync_playwright

from drivers.codes.backends import read_zbar
from drivers.codes.images import load_gray
from edge.cli.enrol_cmd import KioskScreen, serve_screen
from provisioning.fleet.enrolment_qr import qr_payload
from tests.e2e.browser import TIMEOUT_MS, launch

NODE, SERIAL, CODE = "KZ-ALTYNKOL-1", "SN-A1", "MFRG-GZDF-MZTW"


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        chromium = launch(playwright)
        yield chromium
        chromium.close()


def test_the_screen_shows_the_code_and_a_qr_code_of_it_until_the_operator_decides(
    browser: Browser,
) -> None:
    screen = KioskScreen(NODE, SERIAL, CODE)
    with serve_screen(screen, "127.0.0.1", 0) as port:
        page = browser.new_page(viewport={"width": 1024, "height": 768})
        page.set_default_timeout(TIMEOUT_MS)
        screen.show("pending")
        response = page.goto(f"http://127.0.0.1:{port}/")
        assert response is not None
        assert "default-src 'none'" in response.headers["content-security-policy"]
        expect(page.locator("#code")).to_have_text(CODE)
        expect(page.locator("#state")).to_contain_text("Waiting for the fleet operator")
        expect(page.locator("#who")).to_contain_text(f"{NODE} · serial {SERIAL}")
        assert page.locator('meta[http-equiv="refresh"]').count() == 1
        picture = page.locator("#qr svg").screenshot()
        assert [code.text for code in read_zbar(load_gray(picture))] == [qr_payload(NODE, CODE)]

        screen.show("refused", "not a box of <ours>")
        page.reload()
        expect(page.locator("#state")).to_contain_text("Refused by the fleet operator")
        expect(page.locator("#reason")).to_have_text("not a box of <ours>")
        assert page.locator('meta[http-equiv="refresh"]').count() == 0
        page.close()
