"""Sessions live in the store: a restart of the kiosk keeps officers logged in, the store holds
only hashes of the cookies' tokens, and expired sessions are purged."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any, TypeVar

from fastapi.testclient import TestClient
from sqlalchemy import select

from edge.store.schema import kiosk_sessions
from tests.kiosk.conftest import IDLE_MINUTES, PINS, Kiosk, csrf_of
from ui_kiosk import KioskSettings, create_app
from ui_kiosk.store_backend import StoreBackend

T = TypeVar("T")


def _stored(kiosk: Kiosk) -> list[tuple[str, str]]:
    with kiosk.backend.engine.connect() as conn:
        rows = conn.execute(select(kiosk_sessions.c.id, kiosk_sessions.c.officer_id)).all()
    return [(row.id, row.officer_id) for row in rows]


def _restarted(kiosk: Kiosk) -> TestClient:
    """A new app over the same store, as after a restart: nothing of the old one's memory."""
    app = create_app(
        kiosk.backend, KioskSettings(idle_timeout_minutes=IDLE_MINUTES), clock=kiosk.clock
    )
    return TestClient(app, base_url="http://127.0.0.1")


def test_an_officer_stays_logged_in_when_the_kiosk_restarts(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    arrival_id = kiosk.arrive()
    with _restarted(kiosk) as client:
        client.cookies.update(kiosk.client.cookies)
        assert client.get("/api/me").json()["id"] == "ivan"
        response = client.post(  # the page's CSRF token still holds: mid-truck, nothing lost
            f"/arrivals/{arrival_id}/decide",
            data={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "csrf_token": csrf},
            follow_redirects=False,
        )
        assert response.status_code == 303, response.text
    assert [d.officer_id for d in kiosk.decided] == ["ivan"]


def test_the_store_keeps_only_a_hash_of_the_cookies_token(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    token = kiosk.client.cookies["carec_kiosk_session"]
    (stored,) = _stored(kiosk)
    assert stored[1] == "ivan"
    assert stored[0] == hashlib.sha256(token.encode()).hexdigest()
    assert csrf not in (stored[0], token)
    # What a copy of the database holds opens nothing.
    kiosk.client.cookies.set("carec_kiosk_session", stored[0])
    assert kiosk.client.get("/api/me").status_code == 401


def test_logout_and_deactivation_end_the_stored_sessions(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    kiosk.client.post("/logout", data={"csrf_token": csrf})
    assert _stored(kiosk) == []
    kiosk.login("ivan")
    kiosk.officers.set_active("ivan", False)
    assert kiosk.client.get("/api/me").status_code == 401
    assert _stored(kiosk) == []


def test_expired_sessions_are_purged_at_a_login_and_at_start(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    kiosk.login("sara")
    kiosk.clock.advance(IDLE_MINUTES * 60 + 1)
    kiosk.login("olga")  # a new session purges the expired ones
    assert [officer for _, officer in _stored(kiosk)] == ["olga"]
    kiosk.clock.advance(IDLE_MINUTES * 60 + 1)
    with _restarted(kiosk):
        assert _stored(kiosk) == []


def test_session_store_work_goes_through_the_backends_store_runner(kiosk: Kiosk) -> None:
    """Inside `carec-edge run` the runner is the service's store thread, the one thread that
    touches the store: the startup purge, the login, each request's session checks and the
    logout all go through it, none from another thread or the event loop."""
    ran: list[str] = []
    own_thread = kiosk.backend._run

    async def recording(function: Callable[..., T], /, *args: Any) -> T:
        ran.append(function.__name__)
        return await own_thread(function, *args)

    backend = StoreBackend(
        kiosk.backend.engine, kiosk.lanes, officers=kiosk.officers, run=recording
    )
    app = create_app(backend, KioskSettings(idle_timeout_minutes=IDLE_MINUTES), clock=kiosk.clock)
    with TestClient(app, base_url="http://127.0.0.1") as client:
        assert ran == ["purge_expired_now"], "the startup purge did not go through the runner"
        page = client.post("/login", data={"login": "ivan", "pin": PINS["ivan"]})
        assert page.status_code == 200, page.text
        assert "create_now" in ran, ran  # (then the queue it is sent to)
        ran.clear()
        assert client.get("/api/me").json()["id"] == "ivan"
        assert ran == ["get_now"], ran
        ran.clear()
        client.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
        # the body guard's check, the route's, then the end of the session
        assert ran[:3] == ["get_now", "get_now", "_delete"], ran
    assert _stored(kiosk) == []
