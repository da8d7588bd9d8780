"""Every page but login needs a live session; sessions end when idle; the browser's word is
never taken for who is asking."""

from __future__ import annotations

import pytest

from tests.kiosk.conftest import IDLE_MINUTES, Kiosk

PAGES = ["/", "/queue", "/arrivals/1", "/search?q=777", "/status", "/report", "/corner",
         "/queue/rows", "/arrivals/1/live"]  # fmt: skip
API = ["/api/me", "/api/queue", "/api/arrivals/1", "/api/search?q=777", "/api/status",
       "/api/report", "/openapi.json", "/events"]  # fmt: skip
POSTS = ["/arrivals/1/decide", "/arrivals/1/scan", "/arrivals/1/reopen", "/arrivals/1/attach",
         "/arrivals/open", "/language", "/logout"]  # fmt: skip


@pytest.mark.parametrize("path", PAGES)
def test_pages_without_a_session_redirect_to_login(kiosk: Kiosk, path: str) -> None:
    response = kiosk.client.get(path, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


def test_the_login_page_needs_no_session(kiosk: Kiosk) -> None:
    response = kiosk.client.get("/login")
    assert response.status_code == 200
    assert 'id="login-form"' in response.text


@pytest.mark.parametrize("path", API)
def test_the_api_without_a_session_answers_401(kiosk: Kiosk, path: str) -> None:
    response = kiosk.client.get(path, follow_redirects=False)
    assert response.status_code == 401
    assert response.json()["error"] == "not_logged_in"


@pytest.mark.parametrize("path", POSTS)
def test_changes_without_a_session_do_nothing(kiosk: Kiosk, path: str) -> None:
    arrival_id = kiosk.arrive()
    response = kiosk.client.post(
        path, data={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "scan": "X"},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/login"
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


def test_an_htmx_request_without_a_session_is_sent_to_login(kiosk: Kiosk) -> None:
    response = kiosk.client.get("/queue/rows", headers={"HX-Request": "true"})
    assert response.status_code == 401
    assert response.headers["HX-Redirect"] == "/login"


def test_a_forged_session_cookie_is_not_a_session(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    token = kiosk.client.cookies["carec_kiosk_session"]
    flipped = token[:-1] + ("A" if token[-1] != "A" else "B")
    for forged in (flipped, token + "x", "", "x" * 10_000):
        kiosk.client.cookies.set("carec_kiosk_session", forged)
        assert kiosk.client.get("/queue", follow_redirects=False).status_code == 303, forged[:50]


def test_the_session_cookie_is_httponly_strict_and_carries_no_officer(kiosk: Kiosk) -> None:
    response = kiosk.client.post(
        "/login", data={"login": "ivan", "pin": "1111"}, follow_redirects=False
    )
    cookie = response.headers["set-cookie"]
    assert "HttpOnly" in cookie
    assert "SameSite=strict" in cookie or "SameSite=Strict" in cookie
    assert "ivan" not in cookie


def test_an_idle_session_ends(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    kiosk.clock.advance(IDLE_MINUTES * 60 - 1)
    assert kiosk.client.get("/queue", follow_redirects=False).status_code == 200
    kiosk.clock.advance(IDLE_MINUTES * 60 - 1)  # the page above kept it alive
    assert kiosk.client.get("/queue", follow_redirects=False).status_code == 200
    kiosk.clock.advance(IDLE_MINUTES * 60 + 1)
    assert kiosk.client.get("/queue", follow_redirects=False).status_code == 303


def test_live_refreshes_do_not_keep_a_session_alive(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    kiosk.clock.advance(IDLE_MINUTES * 60 - 10)
    assert kiosk.client.get("/queue/rows").status_code == 200
    kiosk.clock.advance(20)
    assert kiosk.client.get("/queue", follow_redirects=False).status_code == 303


def test_logout_ends_the_session(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    response = kiosk.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert response.headers["location"] == "/login"
    assert kiosk.client.get("/queue", follow_redirects=False).status_code == 303


def test_a_disabled_officer_is_logged_out(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    kiosk.officers.set_active("ivan", False)
    assert kiosk.client.get("/queue", follow_redirects=False).status_code == 303


def test_a_technician_sees_status_but_not_trucks(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    kiosk.login("tech")
    assert kiosk.client.get("/status").status_code == 200
    assert kiosk.client.get("/queue").status_code == 403
    assert kiosk.client.get(f"/arrivals/{arrival_id}").status_code == 403
    assert kiosk.client.get("/api/queue").status_code == 403


def test_a_page_for_another_host_name_is_refused(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    response = kiosk.client.get("/queue", headers={"Host": "kiosk.attacker.example"})
    assert response.status_code == 400


def test_pages_forbid_framing_inline_scripts_and_caching(kiosk: Kiosk) -> None:
    headers = kiosk.client.get("/login").headers
    policy = headers["content-security-policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["cache-control"] == "no-store"


def test_login_redirects_only_to_paths_on_the_box(kiosk: Kiosk) -> None:
    response = kiosk.client.post(
        "/login",
        data={"login": "ivan", "pin": "1111", "next": "//attacker.example/x"},
        follow_redirects=False,
    )
    assert response.headers["location"] == "/queue"
