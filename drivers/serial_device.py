"""A serial device in a thread of its own: opens the port, feeds what arrives to the device's
protocol, writes its replies, and when the port goes away (a USB unplug, a dead pty) reports
itself disconnected and reopens it with capped backoff. Nothing here ever stops the service."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import serial

from drivers.backoff import Backoff
from drivers.protocol import Protocol, ProtocolOutput
from edge.readings import Health, Reading

log = logging.getLogger(__name__)

ReadingCallback = Callable[[Reading], None]
HealthCallback = Callable[[str, Health, str], None]  # device id, health, why
RejectCallback = Callable[[str, str], None]  # device id, reason


@dataclass
class DeviceStats:
    readings: int = 0
    rejects: int = 0
    reconnects: int = 0


class SerialDevice:
    def __init__(
        self,
        protocol: Protocol,
        port: str,
        on_reading: ReadingCallback,
        *,
        baudrate: int = 9600,
        on_health: HealthCallback | None = None,
        on_reject: RejectCallback | None = None,
        poll_interval_s: float | None = None,
        backoff: Backoff | None = None,
    ) -> None:
        self.protocol = protocol
        self.device_id = protocol.device_id
        self.port = port
        self.baudrate = baudrate
        self.on_reading = on_reading
        self.on_health = on_health
        self.on_reject = on_reject
        self.poll_interval_s = poll_interval_s
        self.backoff = backoff or Backoff()
        self.stats = DeviceStats()
        self.health = Health.DISCONNECTED
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._serial: serial.Serial | None = None
        self._write_lock = threading.Lock()

    def start(self) -> None:
        self._thread = threading.Thread(
            target=self._run, name=f"device-{self.device_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def write(self, data: bytes) -> bool:
        """Send bytes to the device now; False when it is not connected."""
        with self._write_lock:
            link = self._serial
            if link is None:
                return False
            try:
                link.write(data)
                link.flush()
            except (serial.SerialException, OSError):
                return False
            return True

    # -- the device thread -----------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                link = serial.Serial(self.port, self.baudrate, timeout=0.05)
            except (serial.SerialException, OSError, ValueError) as error:
                self._set_health(Health.DISCONNECTED, f"cannot open {self.port}: {error}")
                self._stop.wait(self.backoff.next_delay())
                continue
            self.backoff.reset()
            self.protocol.reset()
            with self._write_lock:
                self._serial = link
            self._set_health(Health.CONNECTED, f"opened {self.port}")
            try:
                self._pump(link)
            except (serial.SerialException, OSError) as error:
                self.stats.reconnects += 1
                self._set_health(Health.DISCONNECTED, f"lost {self.port}: {error}")
            except Exception:  # a protocol bug must not kill the device thread for good
                log.exception("device.crashed", extra={"device": self.device_id})
                self._set_health(Health.DISCONNECTED, "driver error; reopening")
            finally:
                with self._write_lock:
                    self._serial = None
                link.close()
            self._stop.wait(self.backoff.next_delay())

    def _pump(self, link: serial.Serial) -> None:
        last_input = time.monotonic()
        while not self._stop.is_set():
            data = link.read(link.in_waiting or 1)
            now = time.monotonic()
            if data:
                last_input = now
                self._handle(self.protocol.feed(data))
            elif self.poll_interval_s is not None and now - last_input >= self.poll_interval_s:
                last_input = now
                request = self.protocol.poll()
                if request:
                    self.write(request)

    def _handle(self, output: ProtocolOutput) -> None:
        if output.reply:
            self.write(output.reply)
        for reason in output.rejects:
            self.stats.rejects += 1
            log.warning("device.reject", extra={"device": self.device_id, "reason": reason})
            if self.on_reject:
                self.on_reject(self.device_id, reason)
        if output.rejects and not output.readings:
            self._set_health(Health.DEGRADED, output.rejects[-1])
        for reading in output.readings:
            self.stats.readings += 1
            self._set_health(Health.CONNECTED, "reading")
            self.on_reading(reading)

    def _set_health(self, health: Health, why: str) -> None:
        if health == self.health:
            return
        self.health = health
        log.info(
            "device.health", extra={"device": self.device_id, "health": health.value, "why": why}
        )
        if self.on_health:
            self.on_health(self.device_id, health, why)
