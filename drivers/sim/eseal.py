"""An e-seal reader speaking carec-eseal/1 on a pty, as the real one does: one frame at a time,
each kept until the host ACKs its SEQ, sent again on a NAK or when no ACK comes within the
timeout, given up after `max_retries`; a STATUS_REQUEST is answered with STATUS. Its own thread
reads what the host writes; its frames go out through the line faults."""

from __future__ import annotations

import contextlib
import datetime as dt
import random
import threading
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass

from drivers.eseal.framing import FrameDecoder, FrameError, NakReason, encode_frame
from drivers.eseal.messages import (
    FrameType,
    PayloadError,
    ReaderStatus,
    SealEvent,
    SealId,
    SealReport,
    decode_ack,
    nak_payload,
)
from drivers.sim.faults import Faults, FaultyWriter
from drivers.sim.pty_port import PtyPort
from edge.readings import SealState
from edge.timeutil import utcnow

_READ_WAIT_S = 0.01  # how long the loop waits for host bytes before checking its timers


@dataclass
class ReaderCounters:
    frames_sent: int = 0  # new frames, first transmission
    retransmissions: int = 0
    acks_received: int = 0  # ACKs of the outstanding frame
    naks_received: int = 0
    acks_lost: int = 0  # ACKs the `lose_acks` fault threw away
    given_up: int = 0  # frames dropped after max_retries
    status_requests: int = 0


@dataclass
class _Outstanding:
    seq: int
    frame: bytes
    sent_at: float | None = None
    retries: int = 0


class ESealReaderEmulator:
    def __init__(
        self,
        port: PtyPort,
        *,
        faults: Faults | None = None,
        rng: random.Random | None = None,
        ack_timeout_s: float = 0.5,
        max_retries: int = 3,
        lose_acks: float = 0.0,  # probability that an ACK from the host is lost on the line
        antenna_fault: bool = False,
    ) -> None:
        self.port = port
        self.rng = rng or random.Random()
        self.writer = FaultyWriter(port.write, faults or Faults(), self.rng)
        self.ack_timeout_s = ack_timeout_s
        self.max_retries = max_retries
        self.lose_acks = lose_acks
        self.antenna_fault = antenna_fault
        self.counters = ReaderCounters()
        self._decoder = FrameDecoder()
        self._queue: deque[tuple[FrameType, bytes]] = deque()  # (type, payload after SEQ)
        self._outstanding: _Outstanding | None = None
        self._next_seq = self.rng.randrange(256)  # a random start after power-up
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    # -- what a test does --------------------------------------------------------------------

    def start(self) -> ESealReaderEmulator:
        self._thread = threading.Thread(target=self._run, name="eseal-reader-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def __enter__(self) -> ESealReaderEmulator:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def report(
        self,
        seal_id: str,
        state: SealState,
        battery_low: bool = False,
        events: Iterable[tuple[SealState, dt.datetime]] = (),
    ) -> None:
        """Queue a SEAL_REPORT: it goes out when the frames before it are ACKed or given up."""
        body = SealReport(
            seq=0,
            seal=SealId.parse(seal_id),
            state=state,
            battery_low=battery_low,
            events=tuple(SealEvent(s, at) for s, at in events),
        ).encode()[1:]
        self._enqueue(FrameType.SEAL_REPORT, body)

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Until every queued frame is ACKed or given up; False on timeout."""
        with self._changed:
            return self._changed.wait_for(
                lambda: not self._queue and self._outstanding is None, timeout
            )

    # -- the reader's loop -------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            data = self._read()
            now = time.monotonic()
            for item in self._decoder.feed(data, now):
                if isinstance(item, FrameError):
                    if item.nak is not None:
                        self._send_now(encode_frame(FrameType.NAK, nak_payload(item.nak)))
                else:
                    self._on_host_frame(item.type, item.payload)
            self._drive(time.monotonic())

    def _read(self) -> bytes:
        if not self.port.plugged:
            self._stop.wait(_READ_WAIT_S)  # the cable is out: nothing to listen to
            return b""
        try:
            return self.port.read(_READ_WAIT_S)
        except (OSError, ValueError, TypeError):  # unplugged under it (PtyPort is not locked)
            return b""

    def _on_host_frame(self, frame_type: int, payload: bytes) -> None:
        if frame_type == FrameType.ACK:
            try:
                seq = decode_ack(payload)
            except PayloadError:
                return
            if self.lose_acks and self.rng.random() < self.lose_acks:
                self.counters.acks_lost += 1
                return
            if self._outstanding is not None and seq == self._outstanding.seq:
                self.counters.acks_received += 1
                self._finish()
        elif frame_type == FrameType.NAK:
            self.counters.naks_received += 1
            if self._outstanding is not None:
                self._transmit(self._outstanding)
        elif frame_type == FrameType.STATUS_REQUEST:
            self.counters.status_requests += 1
            self._answer_status()
        else:
            self._send_now(encode_frame(FrameType.NAK, nak_payload(NakReason.UNKNOWN_TYPE)))

    def _answer_status(self) -> None:
        with self._changed:
            if any(kind == FrameType.STATUS for kind, _ in self._queue):
                return
        status = ReaderStatus(
            seq=0, antenna_fault=self.antenna_fault, clock_not_set=False, clock=utcnow()
        )
        self._enqueue(FrameType.STATUS, status.encode()[1:])

    def _drive(self, now: float) -> None:
        """Send the next frame when none is outstanding; retransmit one whose ACK is late."""
        outstanding = self._outstanding
        if outstanding is None:
            with self._changed:
                if not self._queue:
                    return
                kind, body = self._queue.popleft()
                seq, self._next_seq = self._next_seq, (self._next_seq + 1) % 256
                outstanding = _Outstanding(seq, encode_frame(kind, bytes([seq]) + body))
                self._outstanding = outstanding
            self.counters.frames_sent += 1
            self._send_now(outstanding.frame)
            outstanding.sent_at = time.monotonic()  # the timeout runs from the last byte
        elif outstanding.sent_at is not None and now - outstanding.sent_at >= self.ack_timeout_s:
            self._transmit(outstanding)

    def _transmit(self, outstanding: _Outstanding) -> None:
        if outstanding.retries >= self.max_retries:
            self.counters.given_up += 1
            self._finish()
            return
        outstanding.retries += 1
        self.counters.retransmissions += 1
        self._send_now(outstanding.frame)
        outstanding.sent_at = time.monotonic()

    def _finish(self) -> None:
        with self._changed:
            self._outstanding = None
            self._changed.notify_all()

    def _enqueue(self, kind: FrameType, body: bytes) -> None:
        with self._changed:
            self._queue.append((kind, body))
            self._changed.notify_all()

    def _send_now(self, frame: bytes) -> None:
        # Unplugged, before or while writing: the frame is lost, and the ACK timer retries it.
        with contextlib.suppress(OSError, RuntimeError, TypeError):
            self.writer.send(frame)
