"""The outbox, the inbox and their retention behave the same on the box's SQLite store and on
a centre's PostgreSQL: `database_url` runs each test on both. (Two instances on one PostgreSQL:
`test_store_two_instances`.)"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from typing import Any

import pytest
from sqlalchemy import Connection, Engine, select, update

from edge.store.schema import (
    inbox_applied,
    inbox_parked,
    outbox,
    outbox_envelopes,
    peer_events,
    quarantine,
    stream_positions,
)
from edge.timeutil import utcnow
from sync.envelope import Envelope
from sync.inbox import Effects, Inbox, Outcome
from sync.messages import AckMessage, Priority, new_message_id
from sync.outbox import Outbox, RefusalBackoff
from sync.retention import purge_sync_tables, shed_telemetry
from sync.status import OutboxStatus
from tests.sync import store_backends
from tests.sync.store_backends import (
    ENTRY,
    EXIT,
    PEER,
    count,
    decision,
    effect_ids,
    key_for,
    make_inbox,
    make_outbox,
    open_store,
    opened,
    signed,
    telemetry,
)


@pytest.fixture
def store(database_url: str) -> Iterator[Engine]:
    engine = open_store(database_url)
    yield engine
    engine.dispose()


def ack(n: int = 1) -> AckMessage:
    return AckMessage(ids=tuple(new_message_id() for _ in range(n)))


def states(engine: Engine) -> dict[str, str]:
    with engine.connect() as conn:
        return {i: state for i, state in conn.execute(select(outbox.c.id, outbox.c.state))}


def acked_ids(box: Outbox) -> set[str]:
    """The message ids the entry post's acks (waiting in its outbox) acknowledge."""
    return {
        i
        for message in box.take(PEER, 1000)
        if isinstance(payload := opened(message.envelope, EXIT).payload, AckMessage)
        for i in payload.ids
    }


# -- the outbox ----------------------------------------------------------------------------


def test_evidence_leaves_first_then_each_class_in_the_order_it_was_sent(store: Engine) -> None:
    box = make_outbox(store)
    telemetries = box.send_many([(telemetry(n), ENTRY, None) for n in range(3)])
    first = box.send(decision(1), ENTRY)
    acks = box.send_many([(ack(), ENTRY, None) for _ in range(2)])
    second = box.send(decision(2), ENTRY)

    taken = box.take(PEER, 10)

    assert [m.id for m in taken] == [first, second, *acks, *telemetries]
    assert [m.priority for m in taken[:3]] == [Priority.EVIDENCE] * 2 + [Priority.OPERATIONAL]
    assert [(m.stream, m.seq) for m in taken[:2]] == [
        (f"{EXIT}/{ENTRY}/decision", n) for n in (1, 2)
    ]
    assert [opened(m.envelope, ENTRY).seq for m in taken[4:]] == [1, 2, 3]


def test_taken_is_in_flight_until_the_broker_then_the_receiver_acknowledge(store: Engine) -> None:
    box = make_outbox(store)
    ids = box.send_many([(decision(n), ENTRY, None) for n in range(3)])
    quick = box.send(telemetry(1), ENTRY)

    assert [m.id for m in box.take(PEER, 2)] == ids[:2]
    assert [m.id for m in box.take(PEER, 10)] == [ids[2], quick]
    box.acknowledged([ids[0], quick])
    assert box.requeue_inflight(PEER) == 2  # a lost link: what was not acknowledged goes again
    assert states(store) == {
        ids[0]: "acked", ids[1]: "pending", ids[2]: "pending", quick: "delivered"
    }  # fmt: skip
    evidence = next(q for q in box.status() if q.priority is Priority.EVIDENCE)
    assert (evidence.depth, evidence.awaiting_receiver) == (2, 1)

    with store.begin() as conn:
        assert box.delivered(conn, [ids[0]]) == 1

    assert states(store)[ids[0]] == "delivered"
    assert box.has_pending(PEER)


def test_what_the_receiver_has_not_confirmed_is_sent_again(store: Engine) -> None:
    box = make_outbox(store, redeliver_after=dt.timedelta(seconds=-1))
    ids = box.send_many([(decision(n), ENTRY, None) for n in range(3)])
    box.acknowledged([m.id for m in box.take(PEER, 10)])

    assert box.redeliver_overdue(PEER) == 3
    box.acknowledged([m.id for m in box.take(PEER, 10)])
    with store.begin() as conn:  # acked a while ago: the receiver's ack of the last one
        conn.execute(update(outbox).values(acked_at=utcnow() - dt.timedelta(minutes=1)))
        assert box.delivered(conn, [ids[2]]) == 1  # tells that the first two were lost

    assert [m.id for m in box.take(PEER, 10)] == ids[:2]


def test_a_refused_message_is_stuck_with_its_reason_until_its_backoff_passes(
    store: Engine,
) -> None:
    box = make_outbox(store, refusal_backoff=RefusalBackoff(transient_first=dt.timedelta(0)))
    quota, denied = box.send_many([(decision(n), ENTRY, None) for n in range(2)])
    box.take(PEER, 10)

    box.refused([quota], PEER, 0x97, "Quota exceeded")
    box.refused([denied], PEER, 0x87, "Not authorized")

    stuck = {m.id: m for m in box.stuck()}
    assert (stuck[quota].reason, stuck[quota].refusals, stuck[quota].state) == (
        "0x97 Quota exceeded", 1, "refused",
    )  # fmt: skip
    assert stuck[denied].reason == "0x87 Not authorized"
    assert next(q for q in box.status() if q.priority is Priority.EVIDENCE).refused == 2
    assert box.release_refused(PEER) == 1  # the transient one: its backoff is over
    assert [m.id for m in box.take(PEER, 10)] == [quota]


def test_telemetry_beyond_its_cap_drops_the_oldest_and_counts_them(store: Engine) -> None:
    box = make_outbox(store, telemetry_cap=3)
    ids = box.send_many([(telemetry(n), ENTRY, None) for n in range(5)])

    assert [m.id for m in box.take(PEER, 10)] == ids[2:]
    queues = {q.priority: q for q in box.status()}
    assert (queues[Priority.TELEMETRY].dropped, queues[Priority.EVIDENCE].dropped) == (2, 0)


def test_expired_telemetry_is_not_sent_and_is_counted(store: Engine) -> None:
    box = make_outbox(store, telemetry_ttl=dt.timedelta(seconds=-1))
    box.send(telemetry(1), ENTRY)
    kept = box.send(decision(1), ENTRY)

    assert [m.id for m in box.take(PEER, 10)] == [kept]
    assert {q.priority: q for q in box.status()}[Priority.TELEMETRY].expired == 1


def test_a_bundle_carries_every_unconfirmed_message_in_queue_order(store: Engine) -> None:
    box = make_outbox(store)
    later = box.send(telemetry(1), ENTRY)
    first, delivered, refused = box.send_many([(decision(n), ENTRY, None) for n in range(3)])
    box.take(PEER, 10)
    box.refused([refused], PEER)
    with store.begin() as conn:
        box.delivered(conn, [delivered])

    carried = [opened(envelope, ENTRY).id for _, envelope in box.unconfirmed(PEER)]

    assert carried == [first, refused, later]


def test_the_kiosk_sees_waiting_unconfirmed_refused_and_quarantined(store: Engine) -> None:
    box = make_outbox(store)
    waiting = box.send_many([(decision(n), ENTRY, None) for n in range(4)])
    taken = [m.id for m in box.take(PEER, 2)]
    box.acknowledged(taken[:1])
    box.refused(taken[1:], PEER, 0x97, "Quota exceeded")
    make_inbox(store).receive([signed(decision(1), 1, signer=ENTRY)])  # forged: quarantined

    snapshot = OutboxStatus(box).snapshot()

    assert (snapshot.waiting, snapshot.unconfirmed, snapshot.refused) == (2, 1, 1)
    assert snapshot.quarantined == 1
    assert [m.id for m in snapshot.stuck] == [waiting[1]]
    assert snapshot.oldest_waiting_at is not None


# -- the inbox -----------------------------------------------------------------------------


def test_a_message_is_applied_once_and_its_copies_are_acknowledged_duplicates(
    store: Engine,
) -> None:
    acks = make_outbox(store, ENTRY)
    inbox = make_inbox(store, acks_through=acks)
    item = signed(decision(1), 1)

    first = inbox.receive([item, item])
    again = inbox.receive([item])  # a replay, later

    assert [r.outcome for r in first + again] == [Outcome.APPLIED] + [Outcome.DUPLICATE] * 2
    message_id = first[0].message_id
    assert message_id is not None
    assert effect_ids(store) == [message_id]
    assert count(store, peer_events) == 1
    assert inbox.applied_among([message_id, new_message_id()]) == {message_id}
    assert acked_ids(acks) == {message_id}


def test_a_message_ahead_of_a_gap_waits_for_it_then_both_apply_in_order(store: Engine) -> None:
    inbox = make_inbox(store)
    one, two, three = (signed(decision(n), n) for n in (1, 2, 3))

    assert [r.outcome for r in inbox.receive([three, two])] == [Outcome.PARKED] * 2
    assert [r.outcome for r in inbox.receive([two])] == [Outcome.DUPLICATE]
    assert [r.outcome for r in inbox.receive([one])] == [Outcome.APPLIED]

    in_order = [opened(item.data, ENTRY).id for item in (one, two, three)]
    assert effect_ids(store) == in_order
    assert count(store, inbox_parked) == 0
    with store.connect() as conn:
        assert conn.execute(select(stream_positions.c.last_seq)).scalar_one() == 3


def test_a_gap_never_filled_is_given_up_after_its_timeout(store: Engine) -> None:
    inbox = make_inbox(store, gap_timeout=dt.timedelta(minutes=10))
    inbox.receive([signed(decision(5), 5), signed(decision(6), 6)])

    assert inbox.release_gaps(now=utcnow() + dt.timedelta(minutes=5)) == 0
    assert inbox.release_gaps(now=utcnow() + dt.timedelta(minutes=11)) == 1

    assert len(effect_ids(store)) == 2
    assert count(store, inbox_parked) == 0
    assert [r.outcome for r in inbox.receive([signed(decision(7), 7)])] == [Outcome.APPLIED]


def test_a_forged_message_is_quarantined_with_no_effect(store: Engine) -> None:
    inbox = make_inbox(store)

    result = inbox.receive([signed(decision(1), 1, signer=ENTRY)])[0]

    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "bad_signature")
    with store.connect() as conn:
        assert conn.execute(select(quarantine.c.reason)).scalars().all() == ["bad_signature"]
    assert effect_ids(store) == []
    assert inbox.counters.quarantined == {"bad_signature": 1}


def test_a_message_whose_effect_fails_alone_is_quarantined_and_the_rest_applied(
    store: Engine,
) -> None:
    def refuse_arrival_14(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        if any(e.payload.model_dump()["arrival"]["arrival_id"] == 14 for e in envelopes):
            raise ValueError("arrival 14: refused by the cache")
        store_backends.count_effect(conn, envelopes)

    inbox = Inbox(store, ENTRY, key_for, {"decision": Effects(refuse_arrival_14)})
    other = f"{EXIT}/{ENTRY}/decision-2"
    batch = [signed(decision(1), 1), signed(decision(13), 2), signed(decision(3), 1, stream=other)]

    results = inbox.receive(batch)

    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.QUARANTINED, Outcome.APPLIED]
    assert results[1].reason == "not_applicable"
    assert len(effect_ids(store)) == 2
    assert count(store, inbox_applied) == 2


# -- retention -----------------------------------------------------------------------------

DAYS = {"evidence_days": 1827, "dedupe_days": 30, "quarantine_days": 90, "events_days": 90}


def aged(engine: Engine, table: Any, column: str, ids: Sequence[object], days: int) -> None:
    when = utcnow() - dt.timedelta(days=days)
    with engine.begin() as conn:
        conn.execute(update(table).where(table.c.id.in_(ids)).values({column: when}))


def test_purge_deletes_what_is_done_and_old_and_keeps_the_unconfirmed(store: Engine) -> None:
    box = make_outbox(store)
    unconfirmed, done, young = box.send_many([(decision(n), ENTRY, None) for n in range(3)])
    with store.begin() as conn:
        box.delivered(conn, [done, young])
    aged(store, outbox, "created_at", [unconfirmed, done], days=1900)
    inbox = make_inbox(store)
    inbox.receive([signed(decision(n), n) for n in (1, 2)])
    inbox.receive([signed(decision(1), 1, signer=ENTRY)] * 2)
    with store.connect() as conn:
        applied = list(conn.execute(select(inbox_applied.c.id)).scalars())
        quarantined = list(conn.execute(select(quarantine.c.id)).scalars())
    aged(store, inbox_applied, "applied_at", applied[:1], days=100)
    aged(store, peer_events, "created_at", applied[:1], days=100)
    aged(store, quarantine, "received_at", quarantined[:1], days=100)

    deleted = purge_sync_tables(store, now=utcnow(), **DAYS)

    assert deleted == {
        "outbox_envelopes": 1, "outbox": 1, "inbox_applied": 1, "quarantine": 1, "peer_events": 1,
    }  # fmt: skip
    assert set(states(store)) == {unconfirmed, young}
    with store.connect() as conn:
        assert set(conn.execute(select(outbox_envelopes.c.id)).scalars()) == {unconfirmed, young}
    assert inbox.applied_among(applied) == set(applied[1:])
    assert (count(store, quarantine), count(store, peer_events)) == (1, 1)


def test_shedding_telemetry_drops_the_waiting_and_the_received(store: Engine) -> None:
    box = make_outbox(store)
    box.send_many([(telemetry(n), ENTRY, None) for n in range(3)])
    kept = box.send(decision(1), ENTRY)
    make_inbox(store).receive([signed(telemetry(9), 1)])

    assert shed_telemetry(store) == 4

    assert list(states(store)) == [kept]
    assert {q.priority: q for q in box.status()}[Priority.TELEMETRY].dropped == 3
    assert count(store, peer_events) == 0
