"""The host side of carec-eseal/1 (docs/eseal-protocol.md): seal reports become `SealRead`s,
each intact frame is ACKed with its SEQ, a broken one NAKed, a retransmission is recognised and
not reported twice, and an idle line is polled with STATUS_REQUEST."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from drivers.eseal.adapter import ESealProtocol, ESealReaderConfig, register
from drivers.eseal.framing import Frame, FrameDecoder, FrameError, NakReason, encode_frame
from drivers.eseal.messages import (
    FrameType,
    PayloadError,
    ReaderStatus,
    SealReport,
    ack_payload,
    decode_ack,
    decode_nak,
    nak_payload,
)
from drivers.protocol import ProtocolOutput
from edge.readings import SealRead


@dataclass
class LinkCounters:
    frames: int = 0  # intact frames received
    duplicates: int = 0  # retransmissions recognised and not reported again
    naks_sent: int = 0
    naks_received: int = 0  # the reader could not read a frame of ours


@register
class CarecESealProtocol(ESealProtocol):
    name = "carec-eseal/1"

    def __init__(
        self, config: ESealReaderConfig, *, clock: Callable[[], float] = time.monotonic
    ) -> None:
        super().__init__(config)
        self.clock = clock
        self.counters = LinkCounters()
        self.last_status: ReaderStatus | None = None
        self._decoder = FrameDecoder()
        # The last frame accepted, whole (TYPE, SEQ and all): the reader sends one frame at a
        # time, so a retransmission can only repeat this one. Kept across reconnects: the reader
        # may retransmit across a replug.
        self._last_accepted: Frame | None = None

    def reset(self) -> None:
        self._decoder.reset()

    def poll(self) -> bytes:
        return encode_frame(FrameType.STATUS_REQUEST, b"")

    def feed(self, data: bytes) -> ProtocolOutput:
        out = ProtocolOutput()
        # One NAK answers every error since the last frame accepted: the reader has a single
        # frame outstanding, and an error followed by an accepted frame was an earlier copy.
        nak: NakReason | None = None
        for item in self._decoder.feed(data, self.clock()):
            if isinstance(item, FrameError):
                out.rejects.append(item.detail)
                nak = nak or item.nak
                continue
            self.counters.frames += 1
            problem = self._receive(item, out)
            if problem is not None:
                reason, detail = problem
                out.rejects.append(detail)
                nak = nak or reason
            elif item.type not in (FrameType.ACK, FrameType.NAK):
                nak = None
        if nak is not None:
            self.counters.naks_sent += 1
            out.reply += encode_frame(FrameType.NAK, nak_payload(nak))
        return out

    def _receive(self, frame: Frame, out: ProtocolOutput) -> tuple[NakReason, str] | None:
        """Act on an intact frame; a NAK reason and why, when it cannot be accepted."""
        try:
            match frame.type:
                case FrameType.SEAL_REPORT:
                    report = SealReport.decode(frame.payload)
                    if self._accept(frame, report.seq, out):
                        out.readings.append(self._reading(report))
                case FrameType.STATUS:
                    status = ReaderStatus.decode(frame.payload)
                    if self._accept(frame, status.seq, out):
                        self.last_status = status
                        out.rejects += [f"reader reports: {fault}" for fault in status.faults]
                case FrameType.ACK:
                    decode_ack(frame.payload)  # nothing we send waits for an ACK
                case FrameType.NAK:
                    reason = decode_nak(frame.payload)
                    self.counters.naks_received += 1
                    out.rejects.append(f"the reader NAKed a frame of ours: {_reason(reason)}")
                case _:
                    return NakReason.UNKNOWN_TYPE, f"frame of unknown type {frame.type:#04x}"
        except PayloadError as error:
            if frame.type in (FrameType.ACK, FrameType.NAK):
                out.rejects.append(str(error))  # never answered, or NAKs could go back and forth
                return None
            return NakReason.BAD_PAYLOAD, str(error)
        return None

    def _accept(self, frame: Frame, seq: int, out: ProtocolOutput) -> bool:
        """ACK the frame; True when it is new, False for a retransmission of the last one."""
        out.reply += encode_frame(FrameType.ACK, ack_payload(seq))
        if frame == self._last_accepted:
            self.counters.duplicates += 1
            return False
        self._last_accepted = frame
        return True

    def _reading(self, report: SealReport) -> SealRead:
        return self.seal_read(
            report.seal,
            report.state,
            battery_low=report.battery_low,
            events=[(event.state, event.at) for event in report.events],
        )


def _reason(reason: NakReason | int) -> str:
    if isinstance(reason, NakReason):
        return reason.name.lower().replace("_", " ")
    return f"reason {reason:#04x}"
