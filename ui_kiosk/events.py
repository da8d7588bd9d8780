"""Arrival changes as a feed, and as server-sent events for the browser.

`ChangeFeed.publish` may be called from any thread (the store thread, a device's); each
subscriber gets the ids on its own event loop, from the moment it subscribed. A subscriber that
falls behind loses ids (counted), not memory: the browser re-fetches the whole queue on any
change anyway.
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

QUEUE_LIMIT = 64
# An open page's event stream never ends by itself, and a server that stops waits for its
# responses: give a stream this long at a shutdown, then end it (the page's EventSource
# reconnects to the next process on its own). Without it a restart waits for every open kiosk.
SHUTDOWN_GRACE_SECONDS = 2  # uvicorn takes whole seconds


class ChangeFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        # Weakly: a subscription dropped unclosed (a stream that never started) goes by itself.
        self._subscribers: weakref.WeakSet[Subscription] = weakref.WeakSet()

    def publish(self, arrival_id: int) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for subscription in subscribers:
            try:
                subscription.loop.call_soon_threadsafe(subscription.offer, arrival_id)
            except RuntimeError:  # that loop is closed: its subscriber is gone
                self._discard(subscription)

    def subscribe(self) -> Subscription:
        """The changes from now on, on the running loop. Subscribed when this returns, not at
        the first read: a change published in between is not lost."""
        subscription = Subscription(self)
        with self._lock:
            self._subscribers.add(subscription)
        return subscription

    def _discard(self, subscription: Subscription) -> None:
        with self._lock:
            self._subscribers.discard(subscription)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)


class Subscription:
    """One subscriber's arrival ids, at most QUEUE_LIMIT waiting (the overflow is counted)."""

    def __init__(self, feed: ChangeFeed) -> None:
        self.loop = asyncio.get_running_loop()
        self.lost = 0
        self._feed = feed
        self._queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_LIMIT)
        self._closed = False

    def offer(self, arrival_id: int) -> None:
        if self._queue.full():
            self.lost += 1
        else:
            self._queue.put_nowait(arrival_id)

    @property
    def pending(self) -> int:
        return self._queue.qsize()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> int:
        if self._closed:
            raise StopAsyncIteration
        return await self._queue.get()

    async def aclose(self) -> None:
        self._closed = True
        self._feed._discard(self)


async def server_sent_events(
    changes: AsyncIterator[int],
    still_valid: Callable[[], Awaitable[bool]],
    heartbeat_seconds: float,
) -> AsyncGenerator[str, None]:
    """`event: arrival` with the arrival's id per change, a comment line when idle, and
    `event: logout` once the session is over (then the stream ends)."""
    yield "retry: 3000\n\n"
    pending: asyncio.Task[int] | None = None
    try:
        while True:
            if pending is None:
                pending = asyncio.ensure_future(anext(changes))
            done, _ = await asyncio.wait({pending}, timeout=heartbeat_seconds)
            if not await still_valid():
                yield "event: logout\ndata: \n\n"
                return
            if not done:
                yield ": ping\n\n"
                continue
            arrival_id = pending.result()
            pending = None
            yield f"event: arrival\ndata: {arrival_id}\n\n"
    finally:
        if pending is not None:
            pending.cancel()
            await asyncio.gather(pending, return_exceptions=True)
        aclose = getattr(changes, "aclose", None)
        if aclose is not None:
            await aclose()
