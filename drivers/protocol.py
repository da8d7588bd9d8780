"""The byte-level half of a serial driver: a protocol turns the bytes that arrive into readings
and rejects, and says what to answer. It is pure (no I/O), so it is tested on its own with any
bytes, and the same object runs behind a real port or a pty."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field

from edge.readings import Reading


@dataclass
class ProtocolOutput:
    readings: list[Reading] = field(default_factory=list)
    rejects: list[str] = field(default_factory=list)  # why each piece of input was dropped
    reply: bytes = b""  # to write back to the device (an ACK, a NAK, a request)

    def extend(self, other: ProtocolOutput) -> None:
        self.readings += other.readings
        self.rejects += other.rejects
        self.reply += other.reply


class Protocol(ABC):
    """Feeds on bytes as they come, in pieces of any size, garbage included."""

    def __init__(self, device_id: str) -> None:
        self.device_id = device_id

    @abstractmethod
    def feed(self, data: bytes) -> ProtocolOutput:
        """Consume bytes; return whatever became complete."""

    def poll(self) -> bytes:
        """Bytes to send when the line has been idle (a status request); none by default."""
        return b""

    @abstractmethod
    def reset(self) -> None:
        """Forget any partial input: called when the port is reopened."""


class LineBuffer:
    """Splits a byte stream into lines on a terminator, bounding how much a line may grow."""

    def __init__(self, terminators: tuple[bytes, ...], max_line: int) -> None:
        self.terminators = terminators
        self.max_line = max_line
        self._buffer = bytearray()

    def feed(self, data: bytes) -> tuple[list[bytes], list[str]]:
        self._buffer += data
        lines: list[bytes] = []
        rejects: list[str] = []
        while True:
            cut = self._first_terminator()
            if cut is None:
                break
            end, width = cut
            lines.append(bytes(self._buffer[:end]))
            del self._buffer[: end + width]
        if len(self._buffer) > self.max_line:
            rejects.append(f"line longer than {self.max_line} bytes without a terminator, dropped")
            self._buffer.clear()
        return lines, rejects

    def _first_terminator(self) -> tuple[int, int] | None:
        best: tuple[int, int] | None = None
        for terminator in self.terminators:
            at = self._buffer.find(terminator)
            if at >= 0 and (
                best is None or at < best[0] or (at == best[0] and len(terminator) > best[1])
            ):
                best = (at, len(terminator))
        return best

    def reset(self) -> None:
        self._buffer.clear()
