"""A desk passport reader in serial mode: each swipe sends the MRZ lines, CR-terminated, and a
blank line after the document."""

from __future__ import annotations

import random
from collections.abc import Sequence

from drivers.sim.faults import Faults, FaultyWriter
from drivers.sim.pty_port import PtyPort


class MrzReaderEmulator:
    def __init__(
        self,
        port: PtyPort,
        *,
        line_end: bytes = b"\r",
        faults: Faults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.port = port
        self.line_end = line_end
        self.writer = FaultyWriter(port.write, faults or Faults(), rng or random.Random())

    def frame(self, lines: Sequence[str]) -> bytes:
        return b"".join(line.encode("ascii") + self.line_end for line in lines) + self.line_end

    def swipe(self, lines: Sequence[str]) -> None:
        self.writer.send(self.frame(lines))
