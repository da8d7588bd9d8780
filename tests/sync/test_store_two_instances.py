"""Two centre instances on one PostgreSQL, as two real OS processes with their own engines,
started together at a barrier: they share one outbox and one inbox safely. No message is taken
twice, a stream both send on is numbered without gaps, and a message both receive is applied
once (`sync.dialect` says how)."""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable
from typing import Any

from sqlalchemy import select

from edge.store.schema import (
    inbox_applied,
    inbox_parked,
    outbox,
    outbox_envelopes,
    peer_events,
    stream_positions,
    stream_sequences,
)
from tests.fixtures.postgres import PostgresServer
from tests.sync import store_backends
from tests.sync.store_backends import (
    ENTRY,
    EXIT,
    count,
    decision,
    effect_ids,
    make_outbox,
    open_store,
    opened,
    signed,
    telemetry,
)

WAIT_S = 180  # a guard for a process that hangs, not a pace: the test never sleeps


def run_two(target: Callable[..., None], *per_process: tuple[Any, ...]) -> list[Any]:
    """Run `target(url-and-barrier-and-queue..., *args)` in two spawned processes that start
    together; what each reported, in the order they finished."""
    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(len(per_process))
    results = context.Queue()
    processes = [
        context.Process(target=target, args=(args[0], barrier, results, *args[1:]))
        for args in per_process
    ]
    for process in processes:
        process.start()
    try:
        reports = [results.get(timeout=WAIT_S) for _ in processes]
    finally:
        for process in processes:
            process.join(timeout=WAIT_S)
    errors = [detail for kind, detail in reports if kind == "error"]
    assert errors == []
    assert [process.exitcode for process in processes] == [0, 0]
    return [detail for _, detail in reports]


def test_two_instances_taking_from_one_outbox_take_each_message_once(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    engine = open_store(url)
    box = make_outbox(engine, max_unconfirmed=10_000)
    streams = [f"{EXIT}/{ENTRY}/decision-{s}" for s in range(4)]
    ids = box.send_many([(decision(n), ENTRY, streams[n % 4]) for n in range(600)])
    ids += box.send_many([(telemetry(n), ENTRY, None) for n in range(200)])
    engine.dispose()

    first, second = run_two(store_backends.take_until_empty, (url, 7), (url, 7))

    assert set(first).isdisjoint(second)
    assert sorted(first + second) == sorted(ids)


def test_two_instances_sending_on_one_stream_number_it_without_gaps(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    open_store(url).dispose()
    streams = [f"{EXIT}/{ENTRY}/decision-{s}" for s in ("a", "b")]

    # Each batch holds a message of both streams, in opposite orders in the two processes.
    run_two(store_backends.send_on_shared_streams, (url, streams, 60), (url, streams[::-1], 60))

    engine = open_store(url)
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.stream, outbox.c.seq, outbox_envelopes.c.envelope).join(
                outbox_envelopes, outbox_envelopes.c.id == outbox.c.id
            )
        ).all()
        last = {stream: seq for stream, seq in conn.execute(select(stream_sequences))}
    for stream in streams:
        assert sorted(seq for s, seq, _ in rows if s == stream) == list(range(1, 121))
    assert last == dict.fromkeys(streams, 120)
    assert all(opened(bytes(envelope), ENTRY).seq == seq for _, seq, envelope in rows)


def test_two_instances_receiving_the_same_messages_apply_each_once(
    postgres: PostgresServer,
) -> None:
    url = postgres.create_database()
    engine = open_store(url)
    streams = [f"{EXIT}/{ENTRY}/decision-{s}" for s in range(3)]
    # The streams interleaved, in seq order; telemetry (unordered) among them.
    items = [
        signed(decision(seq), seq, stream=stream) for seq in range(1, 41) for stream in streams
    ]
    items += [signed(telemetry(n), n + 1) for n in range(20)]
    decisions = {opened(item.data, ENTRY).id for item in items[:120]}

    # One in the order sent, one in reverse: the second parks what the first has not reached.
    reports = run_two(store_backends.receive_in_batches, (url, items, 8), (url, items[::-1], 8))

    assert sorted(effect_ids(engine)) == sorted(decisions)
    assert count(engine, inbox_applied) == len(items)
    assert count(engine, peer_events) == len(items)
    assert count(engine, inbox_parked) == 0
    with engine.connect() as conn:
        positions = {stream: seq for stream, seq in conn.execute(select(stream_positions))}
        ack_seqs = sorted(
            conn.execute(select(outbox.c.seq).where(outbox.c.type == "ack")).scalars()
        )
    assert {stream: positions[stream] for stream in streams} == dict.fromkeys(streams, 40)
    # Both acknowledged on one ack stream: numbered without gaps.
    assert ack_seqs
    assert ack_seqs == list(range(1, len(ack_seqs) + 1))
    for report in reports:  # every envelope had its outcome in each, none refused
        assert sum(report.values()) == len(items)
        assert "quarantined" not in report
    engine.dispose()
