"""carec-eseal/1 frames on the wire, and a decoder that finds them in a stream of any bytes.

    STX | LEN (2, BE) | TYPE | PAYLOAD | CRC-16/CCITT-FALSE (2, BE, over LEN..PAYLOAD) | ETX

LEN counts TYPE and PAYLOAD. The decoder never trusts a frame until its CRC and ETX check; on
any failure it drops only the STX it started from and looks for the next one, so a false STX in
line noise cannot swallow the real frames that follow it (docs/eseal-protocol.md, "Receiving").
Pure: no I/O, and the time comes in as an argument."""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from enum import IntEnum

STX = 0x02
ETX = 0x03
MAX_LEN = 256  # TYPE + PAYLOAD; so LEN's high byte is 0x00 or 0x01, and "STX STX" never fits
MAX_PAYLOAD = MAX_LEN - 1
OVERHEAD = 6  # STX, LEN (2), CRC (2), ETX
FRAME_GAP_S = 0.1  # a pause this long inside a frame abandons it


class NakReason(IntEnum):
    BAD_CRC = 0x01
    BAD_LENGTH = 0x02  # LEN out of range, no ETX where LEN says, or the frame never completed
    UNKNOWN_TYPE = 0x03
    BAD_PAYLOAD = 0x04  # an intact frame whose payload does not follow its type's layout


def crc16(data: bytes) -> int:
    """CRC-16/CCITT-FALSE: poly 0x1021, init 0xFFFF, no reflection, no final XOR."""
    return binascii.crc_hqx(data, 0xFFFF)


@dataclass(frozen=True)
class Frame:
    type: int
    payload: bytes

    def encode(self) -> bytes:
        return encode_frame(self.type, self.payload)


@dataclass(frozen=True)
class FrameError:
    """Bytes that did not make a frame: why, and the NAK they call for (none for line noise)."""

    detail: str
    nak: NakReason | None


def encode_frame(frame_type: int, payload: bytes) -> bytes:
    if not 0 <= frame_type <= 0xFF:
        raise ValueError(f"frame type {frame_type} does not fit in a byte")
    if len(payload) > MAX_PAYLOAD:
        raise ValueError(f"payload of {len(payload)} bytes; at most {MAX_PAYLOAD} fit a frame")
    body = (len(payload) + 1).to_bytes(2, "big") + bytes([frame_type]) + payload
    return bytes([STX]) + body + crc16(body).to_bytes(2, "big") + bytes([ETX])


class FrameDecoder:
    """Turns bytes, fed in pieces of any size, into frames and frame errors in stream order."""

    def __init__(self, *, max_len: int = MAX_LEN, gap_s: float = FRAME_GAP_S) -> None:
        self.max_len = max_len
        self.gap_s = gap_s
        self._buffer = bytearray()
        self._stale = 0  # how many leading buffered bytes came before a pause of gap_s
        self._last_data_at: float | None = None
        self._resyncing = False  # bytes skipped after an error belong to that error

    def reset(self) -> None:
        self._buffer.clear()
        self._stale = 0
        self._last_data_at = None
        self._resyncing = False

    def feed(self, data: bytes, now: float) -> list[Frame | FrameError]:
        """Consume `data` that arrived at `now` (seconds, monotonic). `feed(b"", now)` after a
        pause gives up on a frame that never completed and looks at what came after its STX."""
        if self._last_data_at is not None and now - self._last_data_at >= self.gap_s:
            self._stale = len(self._buffer)
        if data:
            self._last_data_at = now
            self._buffer += data
        out: list[Frame | FrameError] = []
        while self._buffer:
            item = self._next()
            if item is None:
                break
            out.append(item)
        return out

    def _next(self) -> Frame | FrameError | None:
        """The next frame or error at the head of the buffer; None when more bytes are needed."""
        noise = self._skip_to_stx()
        if noise:
            return noise
        buffer = self._buffer
        if not buffer:
            return None
        if len(buffer) >= 3:
            length = int.from_bytes(buffer[1:3], "big")
            if not 1 <= length <= self.max_len:
                return self._fail(f"LEN {length} outside 1..{self.max_len}", NakReason.BAD_LENGTH)
            end = 3 + length + 3
            if len(buffer) >= end:
                return self._check(length, end)
        if self._stale:
            return self._fail(
                f"frame incomplete after a pause of {self.gap_s} s, abandoned",
                NakReason.BAD_LENGTH,
            )
        return None

    def _check(self, length: int, end: int) -> Frame | FrameError:
        buffer = self._buffer
        body = bytes(buffer[1 : 3 + length])
        sent_crc = int.from_bytes(buffer[3 + length : 5 + length], "big")
        crc = crc16(body)
        if crc != sent_crc:
            return self._fail(
                f"CRC {sent_crc:04X} sent, {crc:04X} computed (LEN {length})",
                NakReason.BAD_CRC,
            )
        if buffer[end - 1] != ETX:
            return self._fail(
                f"byte {buffer[end - 1]:02X} where LEN {length} puts ETX", NakReason.BAD_LENGTH
            )
        self._consume(end)
        self._resyncing = False
        return Frame(type=body[2], payload=body[3:])

    def _fail(self, detail: str, nak: NakReason) -> FrameError:
        self._consume(1)  # only the STX: the real frame may start inside what followed it
        self._resyncing = True
        return FrameError(detail, nak)

    def _skip_to_stx(self) -> FrameError | None:
        at = self._buffer.find(STX)
        skipped = len(self._buffer) if at < 0 else at
        if not skipped:
            return None
        self._consume(skipped)
        if self._resyncing:
            return None
        return FrameError(f"{skipped} bytes of line noise outside any frame", None)

    def _consume(self, count: int) -> None:
        del self._buffer[:count]
        self._stale = max(0, self._stale - count)
