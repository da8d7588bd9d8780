"""A real driver on one end of a real pty, an emulator on the other, and queues to await what
the driver reports: readings, health changes and rejects."""

from __future__ import annotations

import queue
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from drivers.backoff import Backoff
from drivers.protocol import Protocol
from drivers.serial_device import SerialDevice
from drivers.sim.pty_port import PtyPort
from edge.readings import Health, Reading

TIMEOUT_S = 10.0


@dataclass
class Harness:
    port: PtyPort
    device: SerialDevice
    readings: queue.Queue[Reading] = field(default_factory=queue.Queue)
    health: queue.Queue[Health] = field(default_factory=queue.Queue)
    rejects: queue.Queue[str] = field(default_factory=queue.Queue)

    def next_reading(self, timeout: float = TIMEOUT_S) -> Reading:
        return self.readings.get(timeout=timeout)

    def readings_until(self, count: int, timeout: float = TIMEOUT_S) -> list[Reading]:
        return [self.next_reading(timeout) for _ in range(count)]

    def wait_health(self, wanted: Health, timeout: float = TIMEOUT_S) -> None:
        while self.health.get(timeout=timeout) != wanted:
            pass

    def no_more_readings(self, within: float = 0.3) -> bool:
        try:
            self.readings.get(timeout=within)
        except queue.Empty:
            return True
        return False


@contextmanager
def serial_pair(tmp_path: Path, protocol: Protocol, **device_args: object) -> Iterator[Harness]:
    port = PtyPort(tmp_path / f"{protocol.device_id}.tty")
    port.plug()
    harness = Harness(port, None)  # type: ignore[arg-type]
    device = SerialDevice(
        protocol,
        str(port.path),
        harness.readings.put,
        on_health=lambda _id, health, _why: harness.health.put(health),
        on_reject=lambda _id, reason: harness.rejects.put(reason),
        backoff=Backoff(initial_s=0.05, cap_s=0.2),
        **device_args,  # type: ignore[arg-type]
    )
    harness.device = device
    device.start()
    try:
        harness.wait_health(Health.CONNECTED)
        yield harness
    finally:
        device.stop()
        port.close()
