"""The SIE review queue: a partner's signed records held until an operator approves (the
partner link's `on_approved` runs in the approval's transaction) or rejects them, each with a
reason, audited, decided once. On SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, insert, select

from centre.audit import ReasonError
from centre.console.envelope_view import message_id_of
from centre.review_queue import Held, ReviewError, ReviewQueue, ReviewState, hold
from centre.store.schema import record_history
from edge.manifest import Manifest, parse_manifest
from edge.timeutil import utcnow
from provisioning.identity.trust import TrustStore
from sync.envelope import open_envelope
from sync.inbox import Incoming
from sync.messages import ManifestMessage
from sync.setup import key_lookup
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, TORUGART, Centre
from tests.centre.console_helpers import ConsoleUnderTest, console_under_test
from tests.fixtures.records import record

PARTNER = "KG-CIS"


def partner_record(ref: str) -> Manifest:
    return parse_manifest(record(ref=ref, issuer="KG-CIS", office_border="KG417000"))


def signed(centre: Centre, data_dir: Path, manifest: Manifest) -> Incoming:
    """The record in an envelope signed by a node of the partner's country."""
    [incoming] = Box(centre.fleet, TORUGART, data_dir).send([ManifestMessage(record=manifest)])
    return incoming


def hold_records(centre: Centre, tmp_path: Path, refs: list[str]) -> dict[str, tuple[int, bytes]]:
    """ref -> (review item id, the envelope held), held as the partner link holds them."""
    held = {}
    with centre.engine.begin() as conn:
        for index, ref in enumerate(refs):
            manifest = partner_record(ref)
            envelope = signed(centre, tmp_path / f"partner-{index}", manifest).data
            held[ref] = (
                hold(conn, PARTNER, envelope, manifest, message_id=message_id_of(envelope) or ""),
                envelope,
            )
    return held


class Applied:
    """An `on_approved` that does what a partner link would: a write in the same transaction."""

    def __init__(self) -> None:
        self.items: list[Held] = []

    def __call__(self, conn: Connection, held: Held) -> None:
        self.items.append(held)
        conn.execute(
            insert(record_history).values(
                issuer=held.issuer, ref=held.ref, version=held.version, action="partner",
                detail=f"approved from {held.partner}", at=held.decided_at,
            )
        )  # fmt: skip


@pytest.fixture
def applied() -> Applied:
    return Applied()


@pytest.fixture
def console(centre: Centre, applied: Applied) -> Iterator[ConsoleUnderTest]:
    with console_under_test(centre, on_approved=applied) as under_test:
        yield under_test


def _history_of(centre: Centre, ref: str) -> list[str]:
    with centre.engine.connect() as conn:
        return list(
            conn.execute(
                select(record_history.c.detail).where(record_history.c.ref == ref)
            ).scalars()
        )


def test_held_records_are_listed_and_one_is_approved_with_its_envelope_handed_on(
    console: ConsoleUnderTest, applied: Applied, tmp_path: Path
) -> None:
    centre = console.centre
    held = hold_records(centre, tmp_path, ["KG-REF-1", "KG-REF-2"])
    first, envelope = held["KG-REF-1"]
    csrf = console.login("olga")
    page = console.client.get("/review").text
    assert f'id="review-{first}"' in page
    assert f'id="review-{held["KG-REF-2"][0]}"' in page
    assert "KG-CIS / KG-REF-1 · v1" in page
    assert "&#34;ref&#34;: &#34;KG-REF-1&#34;" in page  # the record as received, decoded
    response = console.client.post(
        f"/review/{first}/approve",
        data={"csrf_token": csrf, "reason": "documents match the TIR carnet"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert f"Item {first} approved." in console.client.get(response.headers["location"]).text
    [handed] = applied.items
    assert (handed.id, handed.envelope, handed.partner) == (first, envelope, PARTNER)
    assert handed.state is ReviewState.APPROVED
    assert _history_of(centre, "KG-REF-1") == ["approved from KG-CIS"]
    [still] = console.review.pending()
    assert still.ref == "KG-REF-2"
    stored = console.review.get(first)
    assert stored is not None
    assert (stored.state, stored.decided_by, stored.reason) == (
        ReviewState.APPROVED, "olga", "documents match the TIR carnet",
    )  # fmt: skip
    assert console.audit_rows() == [
        ("olga", "review.approve", f"review:{first}", "documents match the TIR carnet",
         "approved: KG-CIS/KG-REF-1 v1"),
    ]  # fmt: skip
    page = console.client.get("/review").text
    assert f'id="decided-{first}"' in page
    assert f'id="review-{first}"' not in page


def test_a_rejected_record_keeps_its_reason_and_is_not_handed_on(
    console: ConsoleUnderTest, applied: Applied, tmp_path: Path
) -> None:
    [(item, _)] = hold_records(console.centre, tmp_path, ["KG-REF-3"]).values()
    csrf = console.login("olga")
    blank = console.client.post(f"/review/{item}/reject", data={"csrf_token": csrf})
    assert blank.status_code == 422
    assert len(console.review.pending()) == 1
    response = console.client.post(
        f"/review/{item}/reject",
        data={"csrf_token": csrf, "reason": "seal number differs from the partner's"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert applied.items == []
    assert console.review.pending() == []
    stored = console.review.get(item)
    assert stored is not None
    assert (stored.state, stored.reason) == (
        ReviewState.REJECTED, "seal number differs from the partner's",
    )  # fmt: skip
    assert console.audit_rows()[-1][:3] == ("olga", "review.reject", f"review:{item}")
    # Decided once: approving it now is refused, and hands nothing on.
    again = console.client.post(
        f"/review/{item}/approve", data={"csrf_token": csrf, "reason": "changed my mind"}
    )
    assert again.status_code == 409
    assert "already rejected by olga" in again.text
    assert applied.items == []


def test_an_approval_whose_handing_on_fails_leaves_the_record_pending(
    centre: Centre, tmp_path: Path
) -> None:
    [(item, _)] = hold_records(centre, tmp_path, ["KG-REF-4"]).values()

    def failing(conn: Connection, held: Held) -> None:
        raise RuntimeError("the partner link could not apply it")

    queue = ReviewQueue(centre.engine, failing)
    with pytest.raises(RuntimeError):
        queue.approve(item, "olga", "fine")
    [pending] = queue.pending()
    assert (pending.id, pending.state, pending.decided_by) == (item, ReviewState.PENDING, None)
    with pytest.raises(ReasonError, match="reason: empty"):
        queue.approve(item, "olga", "  ")
    with pytest.raises(ReviewError, match="review 999: no such item"):
        queue.reject(999, "olga", "gone")


def test_the_same_message_held_twice_is_held_once(centre: Centre, tmp_path: Path) -> None:
    manifest = partner_record("KG-REF-5")
    envelope = signed(centre, tmp_path / "partner", manifest).data
    with centre.engine.begin() as conn:
        first = hold(conn, PARTNER, envelope, manifest, message_id=message_id_of(envelope) or "")
    with centre.engine.begin() as conn:
        second = hold(conn, PARTNER, envelope, manifest, message_id=message_id_of(envelope) or "")
    assert first == second
    assert [h.id for h in ReviewQueue(centre.engine).pending()] == [first]


def test_a_record_held_as_its_envelopes_canonical_json_shows_decoded(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    centre = console.centre
    manifest = partner_record("KG-REF-6")
    key_for = key_lookup(TrustStore.load(centre.fleet.trust_store))
    envelope = open_envelope(
        signed(centre, tmp_path / "partner", manifest).data, key_for,
        expected_destination=CENTRE, now=utcnow(), max_age=None,
    )  # fmt: skip
    with centre.engine.begin() as conn:
        item = hold(conn, PARTNER, envelope.canonical_json(), manifest, message_id=envelope.id)
    console.login("olga")
    page = console.client.get("/review").text
    assert f'id="review-{item}"' in page
    assert "&#34;ref&#34;: &#34;KG-REF-6&#34;" in page
    assert envelope.id in page
