"""Logging in with a badge or an id and a PIN; wrong PINs are counted, logged and locked out."""

from __future__ import annotations

import logging

import pytest

from tests.kiosk.conftest import PINS, Kiosk


def test_an_officer_logs_in_with_a_scanned_badge_and_lands_on_the_queue(kiosk: Kiosk) -> None:
    response = kiosk.client.post(
        "/login", data={"login": " B-100 ", "pin": "1111"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert response.headers["location"] == "/queue"
    assert kiosk.client.get("/api/me").json()["id"] == "ivan"


def test_a_technician_lands_on_the_status_page(kiosk: Kiosk) -> None:
    response = kiosk.client.post(
        "/login", data={"login": "tech", "pin": "3333"}, follow_redirects=False
    )
    assert response.headers["location"] == "/status"


def test_a_wrong_pin_fails_and_is_counted_and_logged(
    kiosk: Kiosk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="ui_kiosk")
    response = kiosk.client.post("/login", data={"login": "ivan", "pin": "9999"})
    assert response.status_code == 401
    assert 'id="login-error"' in response.text
    assert "carec_kiosk_session" not in kiosk.client.cookies
    assert kiosk.client.app.state.kiosk.guard.total_failures == 1  # type: ignore[attr-defined]
    failed = [r for r in caplog.records if r.getMessage() == "kiosk.login_failed"]
    assert len(failed) == 1
    assert failed[0].officer == "ivan"  # type: ignore[attr-defined]
    assert failed[0].failures == 1  # type: ignore[attr-defined]
    assert "9999" not in caplog.text


def test_a_pin_typed_into_the_login_field_never_reaches_the_log(
    kiosk: Kiosk, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    for _ in range(6):  # failed, then locked: both logged
        kiosk.client.post("/login", data={"login": "731946", "pin": "1111"})
    logged = [r for r in caplog.records if r.getMessage().startswith("kiosk.login_")]
    assert [r.getMessage() for r in logged][-2:] == ["kiosk.login_failed", "kiosk.login_locked"]
    for record in logged:
        values = " ".join(str(v) for v in vars(record).values())
        assert "731946" not in values, record.getMessage()
        assert not hasattr(record, "login")
    digests = {r.login_digest for r in logged}  # type: ignore[attr-defined]
    assert len(digests) == 1, "the same login should read as the same digest"
    assert "731946" not in caplog.text


def test_five_wrong_pins_lock_the_officer_by_id_and_by_badge_alike(kiosk: Kiosk) -> None:
    for _ in range(5):
        assert kiosk.client.post("/login", data={"login": "ivan", "pin": "0000"}).status_code == 401
    by_badge = kiosk.client.post("/login", data={"login": "B-100", "pin": PINS["ivan"]})
    assert by_badge.status_code == 429, "the badge is the same officer: locked too"
    assert "carec_kiosk_session" not in kiosk.client.cookies
    assert kiosk.login("sara")  # another officer is not locked


def test_an_id_and_its_badge_share_one_count_of_guesses(kiosk: Kiosk) -> None:
    for login in ("ivan", "B-100", "ivan", "B-100", "ivan"):  # five guesses in all, not ten
        assert kiosk.client.post("/login", data={"login": login, "pin": "0000"}).status_code == 401
    for login in ("ivan", "B-100"):
        response = kiosk.client.post("/login", data={"login": login, "pin": PINS["ivan"]})
        assert response.status_code == 429, login


def test_a_login_that_names_nobody_is_locked_the_same_way(kiosk: Kiosk) -> None:
    for _ in range(5):
        assert kiosk.client.post("/login", data={"login": "nobody", "pin": "1"}).status_code == 401
    assert kiosk.client.post("/login", data={"login": "nobody", "pin": "1"}).status_code == 429


def test_an_unknown_officer_fails_like_a_wrong_pin(kiosk: Kiosk) -> None:
    response = kiosk.client.post("/login", data={"login": "nobody", "pin": "1111"})
    assert response.status_code == 401
    assert 'id="login-error"' in response.text


def test_too_many_wrong_pins_lock_the_badge_for_a_while(kiosk: Kiosk) -> None:
    for _ in range(5):
        assert kiosk.client.post("/login", data={"login": "ivan", "pin": "0000"}).status_code == 401
    locked = kiosk.client.post("/login", data={"login": "ivan", "pin": "1111"})
    assert locked.status_code == 429
    kiosk.clock.advance(5 * 60 + 1)
    assert kiosk.login("ivan")


def test_a_login_posted_from_another_site_is_refused(kiosk: Kiosk) -> None:
    response = kiosk.client.post(
        "/login",
        data={"login": "ivan", "pin": "1111"},
        headers={"Origin": "http://attacker.example"},
    )
    assert response.status_code == 403
    assert "carec_kiosk_session" not in kiosk.client.cookies


def test_pins_are_stored_only_as_argon2_hashes(kiosk: Kiosk) -> None:
    from sqlalchemy import select

    from edge.store.schema import officers

    with kiosk.officers.engine.connect() as conn:
        stored = conn.execute(select(officers.c.pin_hash).where(officers.c.id == "ivan")).scalar()
    assert stored is not None
    assert stored.startswith("$argon2id$")
    assert "1111" not in stored
