"""Quarantine in the console: a real envelope refused by the centre's inbox shows decoded and
escaped, is verified again by the real inbox, and is released (applied, once) only when it now
passes, or discarded; each with a mandatory reason kept in the audit and never in a log line.
On SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import func, select

from centre.store.schema import events
from edge.store.schema import inbox_applied
from tests.centre.conftest import NURZHOLY, Centre
from tests.centre.console_helpers import (
    ConsoleUnderTest,
    console_under_test,
    jws_like,
    quarantine_bad_signature,
    quarantine_raw,
    quarantine_unknown_type,
)

SECRET_REASON = "Driver Ivanov called: truck 777ABC02 resent it"


@pytest.fixture
def console(centre: Centre) -> Iterator[ConsoleUnderTest]:
    with console_under_test(centre) as under_test:
        yield under_test


def _count(centre: Centre, table_count: object) -> int:
    with centre.engine.connect() as conn:
        return int(conn.execute(table_count).scalar_one())  # type: ignore[call-overload]


def test_a_message_with_a_bad_signature_is_listed_and_shows_decoded(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    item = quarantine_bad_signature(console.centre, tmp_path / "box")
    console.login("viktor")  # reading is a viewer's right
    listing = console.client.get("/quarantine")
    assert f'id="quarantine-{item}"' in listing.text
    assert "bad_signature" in listing.text
    page = console.client.get(f"/quarantine/{item}")
    assert page.status_code == 200
    assert '<code id="item-reason">bad_signature</code>' in page.text
    # The header and payload, decoded for reading: the signer, the type, the box's arrival.
    assert f"&#34;kid&#34;: &#34;{NURZHOLY}&#34;" in page.text
    assert "&#34;type&#34;: &#34;arrival&#34;" in page.text
    assert "&#34;arrival_id&#34;: 1" in page.text


def test_verifying_again_runs_the_real_inbox_and_is_audited(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    item = quarantine_bad_signature(console.centre, tmp_path / "box")
    csrf = console.login("olga")
    page = console.client.post(f"/quarantine/{item}/reverify", data={"csrf_token": csrf})
    assert page.status_code == 200
    assert 'id="verdict" class="refused"' in page.text
    assert "<code>bad_signature</code>" in page.text
    assert console.quarantined_ids() == [item]
    assert console.audit_rows() == [
        ("olga", "quarantine.reverify", f"quarantine:{item}", "", "refused: bad_signature")
    ]


def test_a_message_that_now_passes_is_released_applied_once_and_audited(
    console: ConsoleUnderTest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    centre = console.centre
    item = quarantine_unknown_type(centre, tmp_path / "box", ref="REF-7")
    assert _count(centre, select(func.count()).select_from(events)) == 0
    csrf = console.login("olga")
    verified = console.client.post(f"/quarantine/{item}/reverify", data={"csrf_token": csrf})
    assert 'id="verdict" class="passes"' in verified.text
    with caplog.at_level(logging.DEBUG):
        released = console.client.post(
            f"/quarantine/{item}/release",
            data={"csrf_token": csrf, "reason": SECRET_REASON},
            follow_redirects=False,
        )
    assert released.status_code == 303
    assert console.quarantined_ids() == []
    # Applied as if it had just arrived: in the CIS's feed, recorded as applied, once.
    with centre.engine.connect() as conn:
        feed = conn.execute(select(events.c.type, events.c.origin)).all()
        applied = conn.execute(select(func.count()).select_from(inbox_applied)).scalar_one()
    assert [tuple(row) for row in feed] == [("arrival", NURZHOLY)]
    assert applied == 1
    assert console.audit_rows()[-1] == (
        "olga", "quarantine.release", f"quarantine:{item}", SECRET_REASON, "released: applied",
    )  # fmt: skip
    assert "console.quarantine_release" in [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if "Ivanov" in str(r.__dict__)]
    assert f'id="quarantine-{item}"' not in console.client.get("/quarantine").text


def test_a_message_still_refused_is_not_released_and_the_attempt_is_audited(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    item = quarantine_bad_signature(console.centre, tmp_path / "box")
    csrf = console.login("olga")
    response = console.client.post(
        f"/quarantine/{item}/release", data={"csrf_token": csrf, "reason": "the box says so"}
    )
    assert response.status_code == 409
    assert 'id="verdict" class="refused"' in response.text
    assert console.quarantined_ids() == [item]
    assert console.audit_rows() == [
        ("olga", "quarantine.release", f"quarantine:{item}", "the box says so",
         "not released: refused: bad_signature"),
    ]  # fmt: skip
    assert _count(console.centre, select(func.count()).select_from(events)) == 0


def test_discarding_needs_a_reason_and_is_audited_with_it_not_logged(
    console: ConsoleUnderTest, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    item = quarantine_bad_signature(console.centre, tmp_path / "box")
    csrf = console.login("olga")
    blank = console.client.post(
        f"/quarantine/{item}/discard", data={"csrf_token": csrf, "reason": "   "}
    )
    assert blank.status_code == 422
    assert 'data-code="reason"' in blank.text
    assert console.quarantined_ids() == [item]
    with caplog.at_level(logging.DEBUG):
        done = console.client.post(
            f"/quarantine/{item}/discard",
            data={"csrf_token": csrf, "reason": SECRET_REASON},
            follow_redirects=False,
        )
    assert done.status_code == 303
    assert f"Message {item} discarded." in console.client.get(done.headers["location"]).text
    assert console.quarantined_ids() == []
    assert console.audit_rows() == [
        ("olga", "quarantine.discard", f"quarantine:{item}", SECRET_REASON,
         "discarded: bad_signature"),
    ]  # fmt: skip
    assert "console.quarantine_discard" in [r.getMessage() for r in caplog.records]
    assert not [r for r in caplog.records if "Ivanov" in str(r.__dict__)]
    # Its page is gone, and the audit page keeps the reason.
    assert console.client.get(f"/quarantine/{item}").status_code == 404
    assert SECRET_REASON in console.client.get("/audit").text
    again = console.client.post(
        f"/quarantine/{item}/discard", data={"csrf_token": csrf, "reason": "twice"}
    )
    assert again.status_code == 404
    assert console.client.get(f"/quarantine/{2**40}").status_code == 422


def test_what_a_hostile_message_holds_is_shown_escaped(console: ConsoleUnderTest) -> None:
    raw = jws_like(
        {"alg": "Ed25519", "kid": "<img src=x onerror=alert(1)>"},
        {"id": "x", "payload": {"note": "</pre><script>alert(2)</script>"}},
    )
    item = quarantine_raw(console.centre, raw + b"\n\xff\xfe not ascii")
    console.login("olga")
    page = console.client.get(f"/quarantine/{item}").text
    assert "<script>" not in page
    assert "<img src=x" not in page
    assert "&lt;/pre&gt;&lt;script&gt;alert(2)&lt;/script&gt;" in page
    assert "part 1: not ASCII, so not a JWS" in page
