"""A serial barcode scanner: writes each scan as the real one does, with its configured
prefix, AIM identifier, suffix and terminator."""

from __future__ import annotations

import random

from drivers.barcode import AIM_SYMBOLOGIES
from drivers.sim.faults import Faults, FaultyWriter
from drivers.sim.pty_port import PtyPort

_AIM_CODE = {symbology: code for code, symbology in AIM_SYMBOLOGIES.items()}
_TERMINATOR = {"cr": b"\r", "lf": b"\n", "crlf": b"\r\n", "any": b"\r\n"}


class BarcodeScannerEmulator:
    def __init__(
        self,
        port: PtyPort,
        *,
        prefix: str = "",
        suffix: str = "",
        terminator: str = "cr",
        aim: bool = True,
        faults: Faults | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self.port = port
        self.prefix, self.suffix, self.aim = prefix, suffix, aim
        self.terminator = _TERMINATOR[terminator]
        self.writer = FaultyWriter(port.write, faults or Faults(), rng or random.Random())

    def frame(self, text: str, symbology: str = "code128") -> bytes:
        aim = f"]{_AIM_CODE.get(symbology, 'X')}0" if self.aim else ""
        return f"{self.prefix}{aim}{text}{self.suffix}".encode() + self.terminator

    def scan(self, text: str, symbology: str = "code128") -> None:
        self.writer.send(self.frame(text, symbology))
