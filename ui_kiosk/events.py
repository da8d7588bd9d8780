"""Arrival changes as a feed, and as server-sent events for the browser.

`ChangeFeed.publish` may be called from any thread (the store thread, a device's); each
subscriber gets the ids on its own event loop. A subscriber that falls behind loses ids, not
memory: the browser re-fetches the whole queue on any change anyway.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable

QUEUE_LIMIT = 64
# An open page's event stream never ends by itself, and a server that stops waits for its
# responses: give a stream this long at a shutdown, then end it (the page's EventSource
# reconnects to the next process on its own). Without it a restart waits for every open kiosk.
SHUTDOWN_GRACE_SECONDS = 2  # uvicorn takes whole seconds


class ChangeFeed:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._subscribers: set[tuple[asyncio.AbstractEventLoop, asyncio.Queue[int]]] = set()

    def publish(self, arrival_id: int) -> None:
        with self._lock:
            subscribers = list(self._subscribers)
        for loop, queue in subscribers:
            try:
                loop.call_soon_threadsafe(_offer, queue, arrival_id)
            except RuntimeError:  # that loop is closed: its subscriber is gone
                with self._lock:
                    self._subscribers.discard((loop, queue))

    async def subscribe(self) -> AsyncGenerator[int, None]:
        queue: asyncio.Queue[int] = asyncio.Queue(QUEUE_LIMIT)
        entry = (asyncio.get_running_loop(), queue)
        with self._lock:
            self._subscribers.add(entry)
        try:
            while True:
                yield await queue.get()
        finally:
            with self._lock:
                self._subscribers.discard(entry)

    @property
    def subscribers(self) -> int:
        with self._lock:
            return len(self._subscribers)


def _offer(queue: asyncio.Queue[int], arrival_id: int) -> None:
    if not queue.full():
        queue.put_nowait(arrival_id)


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
