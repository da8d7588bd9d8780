"""The events a peer link's worker takes from paho's network thread (and from the store's, for
"applied"), in order, within a bound.

The bound is never reached in normal work: the broker sends at most `receive_maximum`
messages we have not acknowledged (MQTT 5 Receive Maximum, set in CONNECT), we have at most a
window of publishes in flight, and repeated wake-ups collapse into one. Should it be reached
anyway (a worker stuck on a store that does not answer), what does not fit is dropped and
counted, never held without limit: a dropped message was not acknowledged, so the broker sends
it again; a dropped PUBACK leaves its messages in flight, sent again after the next reconnect.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any

Event = tuple[Any, ...]


class LinkEvents:
    def __init__(self, bound: int) -> None:
        self.bound = bound
        self.dropped = 0  # events that did not fit, counted
        self._items: deque[Event] = deque()
        self._ready = threading.Condition()
        self._wake_queued = False

    def __len__(self) -> int:
        return len(self._items)

    def put(self, event: Event) -> None:
        with self._ready:
            if event[0] == "wake":
                if self._wake_queued:
                    return  # one is enough
                self._wake_queued = True
            elif len(self._items) >= self.bound:
                self.dropped += 1
                return
            self._items.append(event)
            self._ready.notify()

    def get(self, timeout: float) -> Event:
        """The next event, waiting up to `timeout` s; queue.Empty when none came."""
        with self._ready:
            if not self._items and not self._ready.wait_for(lambda: bool(self._items), timeout):
                raise queue.Empty
            return self._take()

    def get_nowait(self) -> Event:
        with self._ready:
            if not self._items:
                raise queue.Empty
            return self._take()

    def _take(self) -> Event:
        event = self._items.popleft()
        if event[0] == "wake":
            self._wake_queued = False
        return event
