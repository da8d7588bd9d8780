"""The carec-eseal/1 messages carried in frames: the payload layout of each frame type, and the
seal identity (ISO 18185: a manufacturer id and a serial number) with its text form."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from enum import IntEnum

from drivers.eseal.framing import MAX_PAYLOAD, NakReason
from edge.readings import SealState


class FrameType(IntEnum):
    ACK = 0x06  # either way: the SEQ of the frame received intact
    NAK = 0x15  # either way: a reason; the reader retransmits its outstanding frame
    STATUS_REQUEST = 0x51  # "Q", host -> reader
    SEAL_REPORT = 0x52  # "R", reader -> host
    STATUS = 0x53  # "S", reader -> host


STATE_CODES = {SealState.SEALED: 0x01, SealState.OPENED: 0x02, SealState.TAMPERED: 0x03}
_STATES = {code: state for state, code in STATE_CODES.items()}

BATTERY_LOW = 0x01  # SEAL_REPORT flags
ANTENNA_FAULT = 0x01  # STATUS flags
CLOCK_NOT_SET = 0x02

SEAL_REPORT_FIXED = 10  # SEQ, MANUFACTURER (2), SERIAL (4), STATE, FLAGS, COUNT
EVENT_SIZE = 5  # STATE, TIME (4)
MAX_EVENTS = (MAX_PAYLOAD - SEAL_REPORT_FIXED) // EVENT_SIZE
STATUS_SIZE = 6  # SEQ, FLAGS, CLOCK (4)

_SEAL_ID = re.compile(r"^([0-9A-Fa-f]{4})-([0-9A-Fa-f]{8})$")


class PayloadError(ValueError):
    """An intact frame whose payload does not follow its type's layout."""


@dataclass(frozen=True, order=True)
class SealId:
    """Text form: the manufacturer as 4 hex digits, a hyphen, the serial as 8 (`0A1F-0012D687`),
    the bytes as they travel; fixed width and upper case, so equal seals compare equal as text."""

    manufacturer: int  # 16 bits
    serial: int  # 32 bits

    def __post_init__(self) -> None:
        if not 0 <= self.manufacturer <= 0xFFFF:
            raise ValueError(f"manufacturer id {self.manufacturer} does not fit in 16 bits")
        if not 0 <= self.serial <= 0xFFFFFFFF:
            raise ValueError(f"seal serial {self.serial} does not fit in 32 bits")

    def __str__(self) -> str:
        return f"{self.manufacturer:04X}-{self.serial:08X}"

    @classmethod
    def parse(cls, text: str) -> SealId:
        match = _SEAL_ID.match(text)
        if not match:
            raise ValueError(f"seal id {text!r}: write it as 4 + 8 hex digits, e.g. 0A1F-0012D687")
        return cls(int(match[1], 16), int(match[2], 16))


@dataclass(frozen=True)
class SealEvent:
    state: SealState
    at: dt.datetime  # UTC, whole seconds


@dataclass(frozen=True)
class SealReport:
    seq: int
    seal: SealId
    state: SealState
    battery_low: bool = False
    events: tuple[SealEvent, ...] = ()  # oldest first

    def encode(self) -> bytes:
        if len(self.events) > MAX_EVENTS:
            raise ValueError(f"{len(self.events)} events; a report carries at most {MAX_EVENTS}")
        out = bytearray([self.seq])
        out += self.seal.manufacturer.to_bytes(2, "big") + self.seal.serial.to_bytes(4, "big")
        out += bytes([STATE_CODES[self.state], BATTERY_LOW if self.battery_low else 0])
        out.append(len(self.events))
        for event in self.events:
            out.append(STATE_CODES[event.state])
            out += _unix_time(event.at).to_bytes(4, "big")
        return bytes(out)

    @classmethod
    def decode(cls, payload: bytes) -> SealReport:
        if len(payload) < SEAL_REPORT_FIXED:
            raise PayloadError(f"SEAL_REPORT of {len(payload)} bytes, at least 10 expected")
        count = payload[9]
        expected = SEAL_REPORT_FIXED + EVENT_SIZE * count
        if len(payload) != expected:
            raise PayloadError(
                f"SEAL_REPORT with {count} events is {expected} bytes, got {len(payload)}"
            )
        events: list[SealEvent] = []
        for at in range(SEAL_REPORT_FIXED, expected, EVENT_SIZE):
            state = _state(payload[at], f"event {len(events)} state")
            events.append(SealEvent(state, _from_unix(payload[at + 1 : at + 5])))
        return cls(
            seq=payload[0],
            seal=SealId(int.from_bytes(payload[1:3], "big"), int.from_bytes(payload[3:7], "big")),
            state=_state(payload[7], "seal state"),
            battery_low=bool(payload[8] & BATTERY_LOW),  # other bits are reserved, ignored
            events=tuple(events),
        )


@dataclass(frozen=True)
class ReaderStatus:
    seq: int
    antenna_fault: bool
    clock_not_set: bool
    clock: dt.datetime  # the reader's own UTC clock

    def encode(self) -> bytes:
        flags = (ANTENNA_FAULT if self.antenna_fault else 0) | (
            CLOCK_NOT_SET if self.clock_not_set else 0
        )
        return bytes([self.seq, flags]) + _unix_time(self.clock).to_bytes(4, "big")

    @classmethod
    def decode(cls, payload: bytes) -> ReaderStatus:
        if len(payload) != STATUS_SIZE:
            raise PayloadError(f"STATUS of {len(payload)} bytes, {STATUS_SIZE} expected")
        return cls(
            seq=payload[0],
            antenna_fault=bool(payload[1] & ANTENNA_FAULT),
            clock_not_set=bool(payload[1] & CLOCK_NOT_SET),
            clock=_from_unix(payload[2:6]),
        )

    @property
    def faults(self) -> list[str]:
        flags = {"antenna fault": self.antenna_fault, "clock not set": self.clock_not_set}
        return [name for name, on in flags.items() if on]


def ack_payload(seq: int) -> bytes:
    return bytes([seq])


def nak_payload(reason: NakReason) -> bytes:
    return bytes([reason])


def decode_ack(payload: bytes) -> int:
    if len(payload) != 1:
        raise PayloadError(f"ACK of {len(payload)} bytes, 1 expected")
    return payload[0]


def decode_nak(payload: bytes) -> NakReason | int:
    """The reason; an unknown reason code comes back as the number (still a NAK)."""
    if len(payload) != 1:
        raise PayloadError(f"NAK of {len(payload)} bytes, 1 expected")
    try:
        return NakReason(payload[0])
    except ValueError:
        return payload[0]


def _state(code: int, what: str) -> SealState:
    try:
        return _STATES[code]
    except KeyError:
        raise PayloadError(f"{what}: code {code:#04x} is not 1, 2 or 3") from None


def _unix_time(moment: dt.datetime) -> int:
    if moment.tzinfo is None:
        raise ValueError(f"{moment!r} has no UTC offset")
    seconds = int(moment.timestamp())
    if not 0 <= seconds <= 0xFFFFFFFF:
        raise ValueError(f"{moment.isoformat()} does not fit 32-bit unix time")
    return seconds


def _from_unix(raw: bytes) -> dt.datetime:
    return dt.datetime.fromtimestamp(int.from_bytes(raw, "big"), dt.UTC)
