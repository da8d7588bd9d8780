"""Failed logins: counted, and an officer locked for a while after too many in a row.

The lock is the officer's, whatever they were named by: their id and their badge share one
count, so five wrong PINs for `demo` lock `BADGE-0001` too. A login that names nobody has a
count of its own (so it is refused the same way, and says nothing of who exists).

The map is bounded: an entry whose last failure and lock are older than the lockout is
forgotten, and when the map is full the oldest unlocked entry goes first (each counted in
`evicted`). The counts live in this process: a restart forgets them.
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

MAX_ENTRIES = 10_000


@dataclass
class _Failures:
    count: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0


def guard_key(officer_id: str | None, login: str) -> str:
    """What a failure counts against: the officer, else the login as typed (normalised)."""
    if officer_id is not None:
        return f"officer:{officer_id}"
    return "login:" + login.strip().casefold()[:64]


class LoginGuard:
    def __init__(
        self,
        max_failures: int,
        lockout_seconds: float,
        clock: Callable[[], float] = time.monotonic,
        max_entries: int = MAX_ENTRIES,
    ) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self.max_entries = max_entries
        self.total_failures = 0
        self.evicted = 0  # entries dropped while still counting, because the map was full
        self._entries: OrderedDict[str, _Failures] = OrderedDict()  # least recent failure first
        self._lock = threading.Lock()

    def locked(self, key: str) -> bool:
        with self._lock:
            entry = self._entries.get(key)
            return entry is not None and entry.locked_until > self.clock()

    def failed(self, key: str) -> int:
        """Count a failure; how many in a row for this key (a lock starts a new count)."""
        now = self.clock()
        with self._lock:
            self.total_failures += 1
            self._forget_expired(now)
            entry = self._entries.pop(key, None)
            if entry is None:
                self._make_room()
                entry = _Failures()
            self._entries[key] = entry  # now the most recent
            entry.count += 1
            entry.last_failure = now
            count = entry.count
            if entry.count >= self.max_failures:
                entry.locked_until = now + self.lockout_seconds
                entry.count = 0
            return count

    def succeeded(self, key: str) -> None:
        with self._lock:
            self._entries.pop(key, None)

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def _forget_expired(self, now: float) -> None:
        horizon = now - self.lockout_seconds
        while self._entries:
            key, entry = next(iter(self._entries.items()))
            if entry.last_failure > horizon or entry.locked_until > now:
                break
            del self._entries[key]

    def _make_room(self) -> None:
        if len(self._entries) < self.max_entries:
            return
        now = self.clock()
        victim = next((k for k, e in self._entries.items() if e.locked_until <= now), None)
        del self._entries[victim if victim is not None else next(iter(self._entries))]
        self.evicted += 1
