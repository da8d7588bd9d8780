"""Telling systemd how the service is doing (sd_notify): ready, stopping, alive, status.

Every call is a no-op unless systemd gave us a NOTIFY_SOCKET and systemd-python is installed,
so the same code runs under systemd, in a terminal and in tests.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping

logger = logging.getLogger(__name__)

_warned = False


def notify(state: str) -> bool:
    """Send `state` (e.g. `READY=1`) to systemd; whether it was sent."""
    global _warned
    if not os.environ.get("NOTIFY_SOCKET"):
        return False
    try:
        from systemd import daemon
    except ImportError:
        if not _warned:
            logger.warning("NOTIFY_SOCKET is set but systemd-python is not installed")
            _warned = True
        return False
    return bool(daemon.notify(state))


def ready(status: str | None = None) -> bool:
    return notify("READY=1" + (f"\nSTATUS={status}" if status else ""))


def stopping() -> bool:
    return notify("STOPPING=1")


def watchdog() -> bool:
    return notify("WATCHDOG=1")


def status(text: str) -> bool:
    return notify(f"STATUS={text}")


def watchdog_interval(environ: Mapping[str, str] | None = None) -> float | None:
    """Seconds between watchdog pets (half of WATCHDOG_USEC), or None when systemd watches no
    watchdog for this process."""
    env = os.environ if environ is None else environ
    try:
        usec = int(env.get("WATCHDOG_USEC", ""))
    except ValueError:
        return None
    if usec <= 0:
        return None
    watched_pid = env.get("WATCHDOG_PID")
    if watched_pid and watched_pid != str(os.getpid()):
        return None
    return usec / 2 / 1_000_000
