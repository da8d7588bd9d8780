"""Failed logins: counted, and a badge or id locked for a while after too many in a row.

The counts are kept in this process (a restart forgets them); every failure is also logged.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass


@dataclass
class _Failures:
    count: int = 0
    locked_until: float = 0.0


class LoginGuard:
    def __init__(
        self, max_failures: int, lockout_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.clock = clock
        self.total_failures = 0
        self._by_login: dict[str, _Failures] = {}
        self._lock = threading.Lock()

    def locked(self, login: str) -> bool:
        with self._lock:
            entry = self._by_login.get(_key(login))
            return entry is not None and entry.locked_until > self.clock()

    def failed(self, login: str) -> int:
        """Count a failure; how many in a row for this login (a lock starts a new count)."""
        with self._lock:
            self.total_failures += 1
            entry = self._by_login.setdefault(_key(login), _Failures())
            entry.count += 1
            count = entry.count
            if entry.count >= self.max_failures:
                entry.locked_until = self.clock() + self.lockout_seconds
                entry.count = 0
            return count

    def succeeded(self, login: str) -> None:
        with self._lock:
            self._by_login.pop(_key(login), None)


def _key(login: str) -> str:
    return login.strip().casefold()[:64]
