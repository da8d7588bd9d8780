"""The peer link's event list is bounded: what does not fit is dropped and counted, and
repeated wake-ups take one place."""

from __future__ import annotations

import queue
import threading

import pytest

from sync.link_events import LinkEvents


def test_events_beyond_the_bound_are_dropped_and_counted() -> None:
    events = LinkEvents(bound=3, room_wait_s=0)  # no worker drains it: drop at once
    for mid in range(5):
        events.put(("puback", mid))
    assert (len(events), events.dropped) == (3, 2)
    assert [events.get_nowait()[1] for _ in range(3)] == [0, 1, 2]  # the first, in order
    with pytest.raises(queue.Empty):
        events.get_nowait()


def test_wake_ups_collapse_into_one() -> None:
    events = LinkEvents(bound=3)
    for _ in range(1000):
        events.put(("wake",))
    events.put(("connected",))
    assert len(events) == 2
    assert events.dropped == 0
    assert events.get_nowait() == ("wake",)
    events.put(("wake",))  # the one queued was taken: a new one has its place
    assert [events.get_nowait(), events.get_nowait()] == [("connected",), ("wake",)]


def test_a_waiting_worker_gets_the_event_another_thread_puts() -> None:
    events = LinkEvents(bound=10)
    threading.Thread(target=events.put, args=(("message", 1),)).start()
    assert events.get(timeout=30.0) == ("message", 1)
