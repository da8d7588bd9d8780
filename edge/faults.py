"""Test-only fault injection: named points in the product where a test can make the process
die, raise or hang at an exact moment, so chaos tests need no sleeps and no luck.

Off unless the environment names faults (a box never sets it):

    CAREC_EDGE_FAULTS="decision.committed=kill,service.store_probe=hang@3"

Each entry is `point=action[@n]`. Actions: `kill` (SIGKILL of this very process: a kill -9 at
that line), `raise` (`InjectedFaultError`), `hang` (block the calling thread for good). Without `@n`
the fault fires every time the point is reached; with `@n` only the n-th time in this process,
or, where the point passes a number of its own (`reached(point, nth=job_id)`), when that number
is n. Child processes inherit the variable.

The points (grep `faults.reached` for the list):
- `decision.before_commit`: inside a decision's transaction, every row written, not committed.
- `decision.committed`: right after a decision's transaction committed.
- `decision.queue`: the wiring puts a decision's messages in the outbox (inside the decision's
  transaction; `raise` leaves the decision stored and unqueued for the reconciler).
- `service.store_probe`: the watchdog's round trip through the store thread.
- `service.reading`: a reading about to be attached to its lane, on the store thread.
- `plates.frame`: the plate worker about to read a frame (`nth` is the frame's job id).
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections import Counter
from dataclasses import dataclass

ENV = "CAREC_EDGE_FAULTS"
ACTIONS = ("kill", "raise", "hang")


class InjectedFaultError(RuntimeError):
    """Raised at a fault point told to `raise`."""


@dataclass(frozen=True)
class Fault:
    action: str
    nth: int | None


def parse(text: str) -> dict[str, Fault]:
    """`point=action[@n],...` as a map; ValueError naming the bad entry."""
    faults: dict[str, Fault] = {}
    for entry in filter(None, (part.strip() for part in text.split(","))):
        point, _, rest = entry.partition("=")
        action, _, nth = rest.partition("@")
        if not point or action not in ACTIONS or (nth and not nth.isdigit()):
            raise ValueError(
                f"{ENV}: {entry!r} is not point=action[@n] with action one of {', '.join(ACTIONS)}"
            )
        faults[point] = Fault(action, int(nth) if nth else None)
    return faults


@functools.cache
def _faults() -> dict[str, Fault]:
    return parse(os.environ.get(ENV, ""))


_lock = threading.Lock()
_counts: Counter[str] = Counter()


def reached(point: str, nth: int | None = None) -> None:
    """Do what the environment asks at `point`; nothing at all when it asks nothing."""
    faults = _faults()
    if not faults:
        return
    fault = faults.get(point)
    if fault is None:
        return
    if nth is None:
        with _lock:
            _counts[point] += 1
            nth = _counts[point]
    if fault.nth is not None and fault.nth != nth:
        return
    if fault.action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    if fault.action == "raise":
        raise InjectedFaultError(f"fault injected at {point}")
    threading.Event().wait()  # hang: until the process is killed


def reset() -> None:
    """Read the environment again and forget the counts (for tests that change it)."""
    _faults.cache_clear()
    with _lock:
        _counts.clear()
