"""Sync's tables keep their rows as long as they must and no longer (`purge_sync_tables`): an
unconfirmed message is kept whatever its age, delivered evidence as long as evidence is."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, insert, select, update

from edge.store.schema import inbox_applied, outbox, outbox_envelopes, peer_events, quarantine
from edge.timeutil import utcnow
from provisioning.identity.fleet import make_fleet
from sync.envelope import CLOCK_SKEW
from sync.inbox import DEFAULT_MAX_AGE
from sync.messages import Priority
from sync.outbox import Outbox, Route, Signer
from sync.retention import MIN_DEDUPE_DAYS, TELEMETRY_DEDUPE, purge_sync_tables
from tests.sync.crossing import ENTRY, EXIT
from tests.sync.test_sync_link import exit_confirmation
from tests.unit.test_outbox_inbox import telemetry

DAYS = {"evidence_days": 1827, "dedupe_days": 30, "quarantine_days": 90, "events_days": 90}


@pytest.fixture
def box(engine: Engine, tmp_path: Path) -> Outbox:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    return Outbox(engine, Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")])


def aged(engine: Engine, ids: list[str], state: str, days: float) -> None:
    when = utcnow() - dt.timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(
            update(outbox).where(outbox.c.id.in_(ids)).values(state=state, created_at=when)
        )


def remaining(engine: Engine) -> set[str]:
    with engine.connect() as conn:
        rows = set(conn.execute(select(outbox.c.id)).scalars())
        envelopes = set(conn.execute(select(outbox_envelopes.c.id)).scalars())
    assert rows == envelopes  # an envelope goes with its message, never before
    return rows


def count(engine: Engine, table: object) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())  # type: ignore[arg-type]


def test_an_unconfirmed_message_older_than_every_retention_is_kept(
    engine: Engine, box: Outbox
) -> None:
    ids = box.send_many([(exit_confirmation(f"U{i}"), ENTRY, None) for i in range(4)])
    for message_id, state in zip(ids, ("pending", "inflight", "acked", "refused"), strict=True):
        aged(engine, [message_id], state, days=10 * 1827)

    deleted = purge_sync_tables(engine, now=utcnow(), **DAYS)

    assert remaining(engine) == set(ids)
    assert deleted["outbox"] == 0


def test_delivered_evidence_and_its_envelope_are_kept_as_long_as_evidence(
    engine: Engine, box: Outbox
) -> None:
    old, young = box.send_many([(exit_confirmation(f"D{i}"), ENTRY, None) for i in range(2)])
    aged(engine, [old], "delivered", days=1828)
    aged(engine, [young], "delivered", days=1826)

    deleted = purge_sync_tables(engine, now=utcnow(), **DAYS)

    assert remaining(engine) == {young}
    assert (deleted["outbox"], deleted["outbox_envelopes"]) == (1, 1)


def test_delivered_telemetry_goes_with_the_events_retention(engine: Engine, box: Outbox) -> None:
    old, young = box.send_many([(telemetry(i), ENTRY, None) for i in range(2)])
    aged(engine, [old], "expired", days=91)
    aged(engine, [young], "delivered", days=89)

    purge_sync_tables(engine, now=utcnow(), **DAYS)

    assert remaining(engine) == {young}


def test_dedupe_rows_quarantine_and_peer_events_each_keep_their_days(engine: Engine) -> None:
    now = utcnow()

    def ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    with engine.begin() as conn:
        for n, days in enumerate((29, 31)):
            conn.execute(
                insert(inbox_applied).values(
                    id=f"applied-{n}",
                    origin=EXIT,
                    type="decision",
                    stream="s",
                    seq=n + 1,
                    peer="hub",
                    applied_at=ago(days),
                )
            )
            conn.execute(
                insert(peer_events).values(
                    id=f"event-{n}",
                    type="decision",
                    origin=EXIT,
                    created_at=ago(days + 60),
                    payload="{}",
                )
            )
            conn.execute(
                insert(quarantine).values(
                    received_at=ago(days + 60),
                    peer="hub",
                    topic="t",
                    reason="malformed",
                    detail="d",
                    raw=b"x" * 256 * 1024,
                )
            )

    deleted = purge_sync_tables(engine, now=now, **DAYS)

    assert (deleted["inbox_applied"], deleted["peer_events"], deleted["quarantine"]) == (1, 1, 1)
    assert count(engine, inbox_applied) == count(engine, peer_events) == 1
    assert count(engine, quarantine) == 1


def test_dedupe_rows_outlive_the_longest_redelivery_window_whatever_is_asked(
    engine: Engine,
) -> None:
    now = utcnow()
    with engine.begin() as conn:
        conn.execute(
            insert(inbox_applied).values(
                id="late",
                origin=EXIT,
                type="manifest",
                stream="s",
                seq=1,
                peer="hub",
                applied_at=now - dt.timedelta(days=MIN_DEDUPE_DAYS - 1),
            )
        )

    purge_sync_tables(engine, now=now, **(DAYS | {"dedupe_days": 7}))

    assert MIN_DEDUPE_DAYS == 15  # a week of broker session, two of an operational max age
    assert count(engine, inbox_applied) == 1


def test_telemetry_dedupe_rows_go_once_such_a_message_would_be_refused_as_expired(
    engine: Engine,
) -> None:
    # A centre takes 2,880 health reports a day from each box: their dedupe rows are needed
    # only while a copy could still be taken (telemetry's max age, and the clock skew).
    now = utcnow()
    rows = {
        "health-old": ("health", TELEMETRY_DEDUPE + dt.timedelta(minutes=1)),
        "health-young": ("health", TELEMETRY_DEDUPE - dt.timedelta(minutes=1)),
        "telemetry-old": ("telemetry", TELEMETRY_DEDUPE + dt.timedelta(minutes=1)),
        "decision-old": ("decision", TELEMETRY_DEDUPE + dt.timedelta(minutes=1)),
    }
    with engine.begin() as conn:
        for n, (message_id, (message_type, age)) in enumerate(rows.items()):
            conn.execute(
                insert(inbox_applied).values(
                    id=message_id, origin=EXIT, type=message_type, stream=f"s{n}", seq=1,
                    peer="hub", applied_at=now - age,
                )
            )  # fmt: skip

    deleted = purge_sync_tables(engine, now=now, **DAYS)

    assert deleted["inbox_applied"] == 2
    with engine.connect() as conn:
        kept = set(conn.execute(select(inbox_applied.c.id)).scalars())
    assert kept == {"health-young", "decision-old"}
    assert DEFAULT_MAX_AGE[Priority.TELEMETRY] + CLOCK_SKEW == TELEMETRY_DEDUPE
