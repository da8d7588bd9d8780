"""Debian's Chromium under Playwright (never a downloaded browser), and what every test does in
it: log in, read the CSRF token, keep a screenshot, record every request a page makes."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from playwright.sync_api import Browser, ConsoleMessage, Page, Playwright, Request

CHROMIUM = "/usr/bin/chromium"
# Root, no network, no GPU: nothing Chromium would otherwise fetch or need on its own.
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip
ARTIFACTS = Path(__file__).parent / "artifacts"
TIMEOUT_MS = 30_000  # generous: the box may be busy; a wait ends at its event, not here


@dataclass(frozen=True)
class Officer:
    id: str
    badge: str
    pin: str


# `carec-edge kiosk --demo-officers` (edge.officers.DEMO_OFFICERS).
DEMO = Officer("demo", "BADGE-0001", "1234")
DEMO_SUPERVISOR = Officer("demo-supervisor", "BADGE-0002", "5678")
DEMO_TECHNICIAN = Officer("demo-technician", "BADGE-0003", "9012")


def launch(playwright: Playwright) -> Browser:
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


def log_in(page: Page, base_url: str, login: str, pin: str, *, then: str = "/queue") -> None:
    """Log in through the login form; waits until the page `then` has loaded."""
    if "/login" not in page.url:
        page.goto(f"{base_url}/login")
    page.fill("#login-id", login)
    page.fill("#login-pin", pin)
    with page.expect_navigation(url=re.compile(re.escape(then))):
        page.click("#login-submit")


@contextmanager
def following_changes(page: Page) -> Iterator[None]:
    """Around what loads a live page: done once the page's event stream is open, so that no
    change the server announces after it is missed."""
    with page.expect_response(lambda response: urlsplit(response.url).path == "/events"):
        yield


def csrf_token(page: Page) -> str:
    """The session's CSRF token, as the page's own forms carry it."""
    token = page.locator("input[name=csrf_token]").first.input_value()
    assert token, f"no CSRF token on {page.url}"
    return token


def screenshot(page: Page, name: str) -> Path:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


@dataclass
class Traffic:
    """Every request the pages of a browser context make, and every console error."""

    requests: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def on_request(self, request: Request) -> None:
        self.requests.append(request.url)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def foreign(self, origin: str) -> list[str]:
        """The requests that went anywhere but `origin` (scheme, host and port)."""
        own = urlsplit(origin)
        return [
            url
            for url in self.requests
            if (urlsplit(url).scheme, urlsplit(url).netloc) != (own.scheme, own.netloc)
        ]

    def paths(self) -> set[str]:
        return {urlsplit(url).path for url in self.requests}
