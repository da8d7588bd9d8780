"""The events a peer link's worker takes from paho's network thread (and from the store's, for
"applied"), in order, within a bound.

The bound should not be reached: the broker is to send at most `receive_maximum` messages we
have not acknowledged (MQTT 5 Receive Maximum, set in CONNECT), we have at most a window of
publishes in flight, and repeated wake-ups collapse into one. But a broker may overshoot its
Receive Maximum (mosquitto 2.0.11 does when acknowledgements come back in batches: measured up
to 2,500 unacknowledged), so when the bound is reached paho's network thread waits for room,
up to `ROOM_WAIT_S`, which holds the broker back through TCP and loses nothing while the worker
drains. Only past that (a worker stuck on a store that does not answer) is an event dropped and
counted, never held without limit: a dropped message was not acknowledged, so the broker sends
it again after the next reconnect; a dropped PUBACK leaves its messages in flight, sent again
then too.
"""

from __future__ import annotations

import queue
import threading
from collections import deque
from typing import Any

Event = tuple[Any, ...]
# How long paho's thread waits for room before dropping an event. A broker may send more than
# our Receive Maximum (mosquitto 2.0.11 does, when acknowledgements come in batches); a dropped
# message is sent again, and a dropped PUBACK settled, only after a reconnect. Waiting holds
# the broker back (TCP) and loses nothing while the worker drains.
ROOM_WAIT_S = 30.0


class LinkEvents:
    def __init__(self, bound: int, room_wait_s: float = ROOM_WAIT_S) -> None:
        self.bound = bound
        self.room_wait_s = room_wait_s
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
            elif len(self._items) >= self.bound and not self._ready.wait_for(
                lambda: len(self._items) < self.bound, self.room_wait_s
            ):
                self.dropped += 1
                return
            self._items.append(event)
            self._ready.notify_all()

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
        self._ready.notify_all()  # an event may be waiting for room
        return event
