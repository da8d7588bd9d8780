"""For a kiosk in a process of its own (`carec-edge kiosk`): notices the arrivals that another
process (`carec-edge run`, the devices) changed in the store, so the queue still follows them.
In the service the wiring calls `StoreBackend.notify_arrival_changed` instead."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable

from sqlalchemy import Engine, func, select

from edge.store.schema import arrivals


class StoreWatcher:
    def __init__(
        self, engine: Engine, publish: Callable[[int], None], interval_seconds: float = 1.0
    ) -> None:
        self.engine = engine
        self.publish = publish
        self.interval = interval_seconds
        self._since: dt.datetime | None = None  # the newest change seen (None: no arrival yet)
        self._started = False
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def poll(self) -> list[int]:
        """Publish the arrivals changed since the last poll (none on the first); their ids."""
        with self.engine.connect() as conn:
            if not self._started:
                self._since = conn.execute(select(func.max(arrivals.c.updated_at))).scalar()
                self._started = True
                return []
            query = select(arrivals.c.id, arrivals.c.updated_at)
            if self._since is not None:
                query = query.where(arrivals.c.updated_at > self._since)
            rows = conn.execute(query).all()
        for arrival_id, updated_at in rows:
            self._since = updated_at if self._since is None else max(self._since, updated_at)
            self.publish(arrival_id)
        return [arrival_id for arrival_id, _ in rows]

    def start(self) -> None:
        self.poll()
        self._thread = threading.Thread(target=self._run, name="kiosk-store-watch", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()
