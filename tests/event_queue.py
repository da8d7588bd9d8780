"""Waiting for the next event a driver under test put in a queue, with a deadline."""

from __future__ import annotations

import queue
from typing import TypeVar

T = TypeVar("T")


def next_event(events: queue.Queue[T], timeout: float, what: str) -> T:
    """The next event, or a failure that says what did not come within the time waited."""
    waited = max(0.0, timeout)
    try:
        return events.get(timeout=waited)
    except queue.Empty:
        raise AssertionError(f"no {what} within {waited:.1f} s") from None
