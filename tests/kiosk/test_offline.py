"""Fully offline: no page and no static file refers to anything but the box itself."""

from __future__ import annotations

import re
from pathlib import Path

from tests.kiosk.conftest import Kiosk

STATIC = Path(__file__).parents[2] / "ui_kiosk" / "static"
EXTERNAL = re.compile(
    r"""https?://|(?:src|href|action|hx-get|hx-post|data-live-src)\s*=\s*["']?\s*//"""
    r"""|url\(\s*["']?\s*(?://|https?:)|@import""",
    re.IGNORECASE,
)


def _external(text: str) -> list[str]:
    return [text[max(0, m.start() - 40) : m.end() + 40] for m in EXTERNAL.finditer(text)]


def test_no_page_refers_to_an_external_url(kiosk: Kiosk) -> None:
    matched = kiosk.arrive()
    unmatched = kiosk.arrive(plate="999ZZZ99", lane="2")
    pages = ["/login", "/login?lang=zh"]
    assert not _external(kiosk.client.get("/login").text)
    csrf = kiosk.login("sara")
    kiosk.client.post(
        f"/arrivals/{matched}/decide",
        data={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "csrf_token": csrf},
    )
    pages += ["/queue", "/queue/rows", f"/arrivals/{matched}", f"/arrivals/{unmatched}",
              f"/arrivals/{unmatched}/live", "/search?q=777ABC02", f"/search?q=x&arrival={unmatched}",
              "/status", "/corner", "/report", "/arrivals/999"]  # fmt: skip
    for path in pages:
        html = kiosk.client.get(path).text
        assert "<html" in html or "<tr" in html or "<span" in html or "<section" in html, path
        assert not _external(html), (path, _external(html))


def test_pages_load_only_the_boxs_own_scripts_and_styles(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    html = kiosk.client.get("/queue").text
    sources = re.findall(r"""(?:src|href)="([^"]+)\"""", html)
    assert sources
    assert all(s.startswith(("/", "#", "data:")) and not s.startswith("//") for s in sources)
    for asset in ("/static/htmx.min.js", "/static/kiosk.js", "/static/kiosk.css"):
        assert kiosk.client.get(asset).status_code == 200


def test_no_static_file_refers_to_an_external_url() -> None:
    files = [p for p in STATIC.iterdir() if p.suffix in (".js", ".css", ".html")]
    assert {p.name for p in files} >= {"htmx.min.js", "kiosk.js", "kiosk.css"}
    for path in files:
        assert not _external(path.read_text(encoding="utf-8")), path


def test_the_vendored_htmx_keeps_its_licence() -> None:
    assert "Zero-Clause BSD" in (STATIC / "htmx.LICENSE").read_text(encoding="utf-8")


def test_api_documentation_pages_that_would_load_a_cdn_are_not_served(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    assert kiosk.client.get("/docs").status_code == 404
    assert kiosk.client.get("/redoc").status_code == 404
