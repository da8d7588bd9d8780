"""Who may use the console: a login with a password, sessions that end (logout, idle), CSRF on
every POST, viewers who read but never act, failed logins counted; its pages in Russian; and
the security headers. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from centre.console.operators import OperatorError, OperatorStore, Role, add_operator
from tests.centre.conftest import Centre
from tests.centre.console_helpers import (
    FAST_HASHER,
    IDLE_MINUTES,
    ConsoleUnderTest,
    console_under_test,
    quarantine_bad_signature,
)


@pytest.fixture
def console(centre: Centre) -> Iterator[ConsoleUnderTest]:
    with console_under_test(centre) as under_test:
        yield under_test


def test_every_page_and_action_needs_a_login(console: ConsoleUnderTest) -> None:
    client = console.client
    for page in ("/", "/quarantine", "/review", "/trace?ref=X", "/audit"):
        response = client.get(page, follow_redirects=False)
        assert response.status_code == 303, page
        assert response.headers["location"].startswith("/login"), page
    assert client.get("/quarantine", follow_redirects=False).headers["location"] == (
        "/login?next=/quarantine"
    )
    refused = client.post("/quarantine/1/discard", data={"reason": "x"}, follow_redirects=False)
    assert refused.status_code == 303
    assert client.get("/login").status_code == 200


def test_a_wrong_password_is_refused_and_an_unknown_login_alike(
    console: ConsoleUnderTest,
) -> None:
    wrong = console.client.post("/login", data={"login": "olga", "password": "not-her-password"})
    unknown = console.client.post("/login", data={"login": "nobody", "password": "whatever-1234"})
    assert wrong.status_code == unknown.status_code == 401
    assert 'id="login-error"' in wrong.text
    assert 'id="login-error"' in unknown.text
    assert "carec_console_session" not in console.client.cookies
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_an_operator_logs_in_sees_the_pages_and_logs_out(console: ConsoleUnderTest) -> None:
    csrf = console.login("olga")
    for page in ("/", "/quarantine", "/review", "/trace", "/audit"):
        assert console.client.get(page).status_code == 200, page
    out = console.client.post("/logout", data={"csrf_token": csrf}, follow_redirects=False)
    assert out.status_code == 303
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_a_viewer_reads_everything_but_every_action_is_refused(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    item = quarantine_bad_signature(console.centre, tmp_path / "box")
    csrf = console.login("viktor")
    page = console.client.get(f"/quarantine/{item}")
    assert page.status_code == 200
    assert 'id="discard-form"' not in page.text  # no action offered to a viewer
    for action in ("reverify", "release", "discard"):
        response = console.client.post(
            f"/quarantine/{item}/{action}", data={"csrf_token": csrf, "reason": "looks fine"}
        )
        assert response.status_code == 403, action
        assert 'data-code="not_allowed"' in response.text
    for action in ("approve", "reject"):
        response = console.client.post(
            f"/review/1/{action}", data={"csrf_token": csrf, "reason": "ok"}
        )
        assert response.status_code == 403, action
    assert console.quarantined_ids() == [item]
    # Nothing done; each attempt audited as refused (its typed reason not kept).
    assert console.audit_rows() == [
        ("viktor", "refused", f"POST /quarantine/{item}/{action}", "", "refused: role viewer")
        for action in ("reverify", "release", "discard")
    ] + [
        ("viktor", "refused", f"POST /review/1/{action}", "", "refused: role viewer")
        for action in ("approve", "reject")
    ]


def test_a_post_without_this_sessions_csrf_token_is_refused(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    item = quarantine_bad_signature(console.centre, tmp_path / "box")
    console.login("olga")
    missing = console.client.post(f"/quarantine/{item}/discard", data={"reason": "spam"})
    forged = console.client.post(
        f"/quarantine/{item}/discard", data={"reason": "spam", "csrf_token": "0" * 64}
    )
    assert missing.status_code == forged.status_code == 403
    assert 'data-code="csrf"' in missing.text
    assert console.client.post("/logout", follow_redirects=False).status_code == 403
    assert console.quarantined_ids() == [item]
    assert console.audit_rows() == []


def test_a_session_idle_too_long_ends_and_a_busy_one_does_not(
    console: ConsoleUnderTest,
) -> None:
    console.login("olga")
    console.clock.now += IDLE_MINUTES * 60 - 10
    assert console.client.get("/").status_code == 200  # touched: the idle clock starts again
    console.clock.now += IDLE_MINUTES * 60 - 10
    assert console.client.get("/").status_code == 200
    console.clock.now += IDLE_MINUTES * 60 + 1
    assert console.client.get("/", follow_redirects=False).status_code == 303


def test_a_deactivated_operator_is_logged_out(console: ConsoleUnderTest) -> None:
    console.login("olga")
    OperatorStore(console.centre.engine, FAST_HASHER).set_active("olga", False)
    assert console.client.get("/", follow_redirects=False).status_code == 303
    assert (
        console.client.post(
            "/login", data={"login": "olga", "password": "olga-password-1"}
        ).status_code
        == 401
    )


def test_too_many_failed_logins_lock_the_login_for_a_while(console: ConsoleUnderTest) -> None:
    for _ in range(5):
        bad = console.client.post("/login", data={"login": "olga", "password": "guess-guess"})
        assert bad.status_code == 401
    locked = console.client.post("/login", data={"login": "olga", "password": "olga-password-1"})
    assert locked.status_code == 429


def test_pages_carry_the_security_headers_and_load_nothing_from_elsewhere(
    console: ConsoleUnderTest,
) -> None:
    console.login("olga")
    response = console.client.get("/")
    csp = response.headers["content-security-policy"]
    assert "default-src 'self'" in csp
    assert "frame-ancestors 'none'" in csp
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["cache-control"] == "no-store"
    assert "http://" not in response.text
    assert "https://" not in response.text
    assert console.client.get("/static/console.css").status_code == 200


def test_an_operator_working_in_russian_sees_russian_pages(console: ConsoleUnderTest) -> None:
    console.login("irina")
    overview = console.client.get("/")
    assert '<html lang="ru">' in overview.text
    assert "Пункты" in overview.text
    assert "В карантине: 0" in overview.text
    assert "Карантин пуст." in console.client.get("/quarantine").text
    assert "Очередь проверки" in console.client.get("/review").text
    login_page = console.client.get("/login?lang=ru")
    assert "Войти" in login_page.text
    assert "Пароль" in login_page.text


def test_an_operator_changes_their_language(console: ConsoleUnderTest) -> None:
    csrf = console.login("olga")
    assert "Boxes" in console.client.get("/").text
    console.client.post("/language", data={"csrf_token": csrf, "language": "ru", "next": "/"})
    assert "Пункты" in console.client.get("/").text


def test_add_operator_refuses_what_it_cannot_keep(centre: Centre) -> None:
    engine = centre.engine
    add_operator(engine, "anna", "a-long-password", Role.VIEWER, hasher=FAST_HASHER)
    with pytest.raises(OperatorError, match="login: 'anna' is taken"):
        add_operator(engine, "anna", "another-password", Role.VIEWER, hasher=FAST_HASHER)
    with pytest.raises(OperatorError, match="password: 5 characters"):
        add_operator(engine, "boris", "short", Role.VIEWER, hasher=FAST_HASHER)
    with pytest.raises(OperatorError, match="role: 'admin' is not one of operator, viewer"):
        add_operator(engine, "boris", "a-long-password", "admin", hasher=FAST_HASHER)
    with pytest.raises(OperatorError, match="login: 'Boris Petrov'"):
        add_operator(engine, "Boris Petrov", "a-long-password", Role.VIEWER, hasher=FAST_HASHER)
