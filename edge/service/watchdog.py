"""The systemd watchdog, petted only when the service really works: each pet follows a round
trip through the store thread (where every reading, decision and message is written), so a
store thread stuck on a lock or in a loop stops the pets and systemd restarts the service,
where a pet from the event loop alone would have kept a dead service alive for ever.

Until the service is ready, the pets only show that the event loop turns: starting is the store
thread's work (migrations may take long) and systemd's start timeout watches it.

A round trip that does not come back within the interval withholds the pet; this is logged once
(`watchdog.withheld`) and told to systemd as the STATUS, and no second probe is queued behind
the stuck one."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from edge import faults, systemd_notify
from edge.logs import log_event

logger = logging.getLogger(__name__)

InStore = Callable[[Callable[[], Any]], Awaitable[Any]]


def store_probe() -> bool:
    """Runs on the store thread: that it runs at all is the answer."""
    faults.reached("service.store_probe")
    return True


async def pet_while_the_store_answers(
    in_store: InStore, interval: float, ready: asyncio.Event
) -> None:
    """Every `interval` seconds WATCHDOG=1: once `ready`, only after a round trip through the
    store thread."""
    while not ready.is_set():
        systemd_notify.watchdog()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(ready.wait(), interval)
    probe: asyncio.Future[Any] | None = None
    withheld = False
    while True:
        started = time.monotonic()
        if probe is None:
            probe = asyncio.ensure_future(in_store(store_probe))
        done, _ = await asyncio.wait({probe}, timeout=interval)
        if not done:
            if not withheld:
                withheld = True
                why = f"the store thread has not answered for {interval:g} s"
                log_event(logger, logging.ERROR, "watchdog.withheld", reason=why)
                systemd_notify.status(f"watchdog withheld: {why}")
            continue
        answered, probe = probe, None
        if answered.exception() is not None:
            withheld = True
            log_event(
                logger, logging.ERROR, "watchdog.withheld",
                reason=f"the store probe failed: {type(answered.exception()).__name__}",
            )  # fmt: skip
            await asyncio.sleep(interval)
            continue
        if withheld:
            withheld = False
            log_event(logger, logging.INFO, "watchdog.resumed")
            systemd_notify.status("running")
        systemd_notify.watchdog()
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
