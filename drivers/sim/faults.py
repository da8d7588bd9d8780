"""Line faults for emulators: what real cables, scanners and readers do to bytes."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class Faults(BaseModel):
    """Which faults an emulator injects, and how often (probabilities per frame)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    noise: Annotated[float, Field(ge=0, le=1)] = 0.0  # garbage bytes before a frame
    split: Annotated[float, Field(ge=0, le=1)] = 0.0  # a frame written in several pieces
    duplicate: Annotated[float, Field(ge=0, le=1)] = 0.0  # a frame sent twice
    corrupt: Annotated[float, Field(ge=0, le=1)] = 0.0  # one byte of a frame flipped (CRC errors)
    byte_delay_s: Annotated[float, Field(ge=0, le=0.1)] = 0.0  # slow link: a pause per byte


@dataclass
class FaultyWriter:
    """Writes frames through the configured faults."""

    write: Callable[[bytes], None]
    faults: Faults = field(default_factory=Faults)
    rng: random.Random = field(default_factory=random.Random)

    def send(self, frame: bytes) -> None:
        f = self.faults
        if f.noise and self.rng.random() < f.noise:
            self._emit(self.garbage())
        if f.corrupt and frame and self.rng.random() < f.corrupt:
            at = self.rng.randrange(len(frame))
            frame = frame[:at] + bytes([frame[at] ^ (1 << self.rng.randrange(8))]) + frame[at + 1 :]
        copies = 2 if f.duplicate and self.rng.random() < f.duplicate else 1
        for _ in range(copies):
            self._emit(frame)

    def garbage(self) -> bytes:
        # No line terminators: noise glues onto the next frame, as it does on a real line.
        return bytes(
            self.rng.choice([b for b in range(256) if b not in (10, 13)])
            for _ in range(self.rng.randint(1, 12))
        )

    def _emit(self, data: bytes) -> None:
        f = self.faults
        if f.byte_delay_s:
            for byte in data:
                self.write(bytes([byte]))
                time.sleep(f.byte_delay_s)  # the device's own slowness, not synchronisation
            return
        if f.split and len(data) > 1 and self.rng.random() < f.split:
            cuts = sorted(self.rng.sample(range(1, len(data)), min(3, len(data) - 1)))
            for start, end in zip([0, *cuts], [*cuts, len(data)], strict=True):
                self.write(data[start:end])
            return
        self.write(data)
