"""The live queue: arrival changes reach every subscriber as server-sent events; the stream
ends with a logout event when the session does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, Awaitable
from typing import TypeVar

from tests.kiosk.conftest import Kiosk
from ui_kiosk.events import QUEUE_LIMIT, ChangeFeed, server_sent_events

T = TypeVar("T")


DEADLINE = 30.0  # seconds: every wait below ends at its event, or fails here with a message


async def _valid() -> bool:
    return True


async def within(what: str, waiting: Awaitable[T]) -> T:
    try:
        return await asyncio.wait_for(waiting, DEADLINE)
    except TimeoutError:
        raise AssertionError(f"{what}: nothing within {DEADLINE} s") from None


async def _first(stream: AsyncGenerator[str, None], count: int) -> list[str]:
    out = []
    async for chunk in stream:
        out.append(chunk)
        if len(out) == count:
            break
    return out


def test_a_change_published_from_another_thread_reaches_the_stream() -> None:
    feed = ChangeFeed()

    async def scenario() -> list[str]:
        stream = server_sent_events(feed.subscribe(), _valid, heartbeat_seconds=60)
        assert feed.subscribers == 1  # subscribed already: nothing published from now is lost
        publisher = threading.Thread(target=feed.publish, args=(42,))
        publisher.start()
        chunks = await within("the change on the stream", _first(stream, 2))
        publisher.join()
        await stream.aclose()
        return chunks

    assert asyncio.run(scenario()) == ["retry: 3000\n\n", "event: arrival\ndata: 42\n\n"]


def test_a_change_published_before_the_first_read_is_not_lost() -> None:
    feed = ChangeFeed()

    async def scenario() -> list[str]:
        stream = server_sent_events(feed.subscribe(), _valid, heartbeat_seconds=60)
        feed.publish(7)  # before the stream sent anything (the browser has seen no response)
        chunks = await within("the early change on the stream", _first(stream, 2))
        await stream.aclose()
        return chunks

    assert asyncio.run(scenario()) == ["retry: 3000\n\n", "event: arrival\ndata: 7\n\n"]


def test_an_idle_stream_sends_heartbeats_and_a_closed_stream_unsubscribes() -> None:
    feed = ChangeFeed()

    async def scenario() -> list[str]:
        stream = server_sent_events(feed.subscribe(), _valid, heartbeat_seconds=0.01)
        chunks = await within("a heartbeat", _first(stream, 2))
        await stream.aclose()
        return chunks

    assert asyncio.run(scenario()) == ["retry: 3000\n\n", ": ping\n\n"]
    assert feed.subscribers == 0


def test_the_stream_ends_with_logout_when_the_session_is_over() -> None:
    feed = ChangeFeed()

    async def expired() -> bool:
        return False

    async def scenario() -> list[str]:
        stream = server_sent_events(feed.subscribe(), expired, 0.01)
        return await within("the logout event", _all(stream))

    assert asyncio.run(scenario()) == ["retry: 3000\n\n", "event: logout\ndata: \n\n"]


async def _all(stream: AsyncGenerator[str, None]) -> list[str]:
    return [chunk async for chunk in stream]


def test_a_subscriber_that_falls_behind_loses_ids_not_memory() -> None:
    feed = ChangeFeed()

    async def scenario() -> tuple[int, int]:
        changes = feed.subscribe()
        delivered = asyncio.Event()
        loop = asyncio.get_running_loop()

        def publish_all() -> None:
            for arrival_id in range(1000):
                feed.publish(arrival_id)
            loop.call_soon_threadsafe(delivered.set)  # after every offer, in order

        publisher = threading.Thread(target=publish_all)
        publisher.start()
        await within("the thousand offers", delivered.wait())
        publisher.join()
        pending, lost = changes.pending, changes.lost
        await changes.aclose()
        return pending, lost

    assert asyncio.run(scenario()) == (QUEUE_LIMIT, 1000 - QUEUE_LIMIT)
    assert feed.subscribers == 0


def test_the_backend_publishes_its_own_changes(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()

    async def scenario() -> int:
        changes = kiosk.backend.changes()
        kiosk.backend.notify_arrival_changed(arrival_id)  # the wiring, after a reading
        seen = await within("the backend's change", anext(changes))
        await changes.aclose()
        return seen

    assert asyncio.run(scenario()) == arrival_id


def test_a_kiosk_in_its_own_process_notices_arrivals_others_change(kiosk: Kiosk) -> None:
    from ui_kiosk.store_watch import StoreWatcher

    published: list[int] = []
    watcher = StoreWatcher(kiosk.backend.engine, published.append)
    assert watcher.poll() == []  # the first poll only notes where the store is
    first = kiosk.arrive(lane="1")
    second = kiosk.arrive(plate="A555MH01", lane="2")
    assert sorted(watcher.poll()) == [first, second]
    assert watcher.poll() == []
    kiosk.lanes.close(first, "manual")
    assert watcher.poll() == [first]
    assert sorted(published) == sorted([first, second, first])
