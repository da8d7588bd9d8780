"""The live queue: arrival changes reach every subscriber as server-sent events; the stream
ends with a logout event when the session does."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator

from tests.kiosk.conftest import Kiosk
from ui_kiosk.events import ChangeFeed, server_sent_events


async def _valid() -> bool:
    return True


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
        assert await anext(stream) == "retry: 3000\n\n"
        waiting = asyncio.ensure_future(anext(stream))
        while feed.subscribers == 0:  # the subscription starts with the first read
            await asyncio.sleep(0)
        publisher = threading.Thread(target=feed.publish, args=(42,))
        publisher.start()
        chunk = await waiting
        publisher.join()
        await stream.aclose()
        return [chunk]

    assert asyncio.run(scenario()) == ["event: arrival\ndata: 42\n\n"]


def test_an_idle_stream_sends_heartbeats_and_a_closed_stream_unsubscribes() -> None:
    feed = ChangeFeed()

    async def scenario() -> list[str]:
        stream = server_sent_events(feed.subscribe(), _valid, heartbeat_seconds=0.01)
        chunks = await _first(stream, 2)
        await stream.aclose()
        return chunks

    assert asyncio.run(scenario()) == ["retry: 3000\n\n", ": ping\n\n"]
    assert feed.subscribers == 0


def test_the_stream_ends_with_logout_when_the_session_is_over() -> None:
    feed = ChangeFeed()

    async def expired() -> bool:
        return False

    async def scenario() -> list[str]:
        return [c async for c in server_sent_events(feed.subscribe(), expired, 0.01)]

    assert asyncio.run(scenario()) == ["retry: 3000\n\n", "event: logout\ndata: \n\n"]


def test_a_subscriber_that_falls_behind_loses_ids_not_memory() -> None:
    feed = ChangeFeed()

    async def scenario() -> int:
        changes = feed.subscribe()
        first = asyncio.ensure_future(anext(changes))
        while feed.subscribers == 0:
            await asyncio.sleep(0)
        for arrival_id in range(1000):
            feed.publish(arrival_id)
        await first
        await asyncio.sleep(0)  # let the published callbacks run
        queued = 0
        while True:
            try:
                await asyncio.wait_for(anext(changes), timeout=0.001)
            except TimeoutError:
                break
            queued += 1
        await changes.aclose()
        return queued

    assert asyncio.run(scenario()) < 100


def test_the_backend_publishes_its_own_changes(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    seen: list[int] = []

    async def scenario() -> None:
        changes = kiosk.backend.changes()
        first = asyncio.ensure_future(anext(changes))
        while kiosk.backend.feed.subscribers == 0:
            await asyncio.sleep(0)
        kiosk.backend.notify_arrival_changed(arrival_id)  # the wiring, after a reading
        seen.append(await first)
        await changes.aclose()

    asyncio.run(scenario())
    assert seen == [arrival_id]


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
