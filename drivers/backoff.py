"""Capped exponential backoff with jitter, for reconnecting to devices that come and go."""

from __future__ import annotations

import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    initial_s: float = 0.2
    cap_s: float = 10.0
    factor: float = 2.0
    jitter: float = 0.2  # up to this fraction added at random, so boxes do not retry in step
    _next: float = field(default=0.0, init=False)
    _rng: random.Random = field(default_factory=random.Random, init=False, repr=False)

    def __post_init__(self) -> None:
        self._next = self.initial_s

    def next_delay(self) -> float:
        delay = self._next
        self._next = min(self.cap_s, self._next * self.factor)
        return delay * (1.0 + self.jitter * self._rng.random())

    def reset(self) -> None:
        self._next = self.initial_s
