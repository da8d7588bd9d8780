"""A real driver on one end of a real pty, an emulator on the other, and queues to await what
the driver reports: readings, health changes and rejects."""

from __future__ import annotations

import queue
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from drivers.backoff import Backoff
from drivers.protocol import Protocol
from drivers.serial_device import SerialDevice
from drivers.sim.pty_port import PtyPort
from edge.readings import Health, Reading
from tests.event_queue import next_event

TIMEOUT_S = 60.0  # a bound on waits that take milliseconds, generous for a loaded 2-core box


@dataclass
class Harness:
    port: PtyPort
    device: SerialDevice
    readings: queue.Queue[Reading] = field(default_factory=queue.Queue)
    health: queue.Queue[Health] = field(default_factory=queue.Queue)
    rejects: queue.Queue[str] = field(default_factory=queue.Queue)

    def next_reading(self, timeout: float = TIMEOUT_S) -> Reading:
        return next_event(self.readings, timeout, "reading")

    def readings_until(self, count: int, timeout: float = TIMEOUT_S) -> list[Reading]:
        return [self.next_reading(timeout) for _ in range(count)]

    def next_reject(self, timeout: float = TIMEOUT_S) -> str:
        return next_event(self.rejects, timeout, "reject")

    def wait_health(self, wanted: Health, timeout: float = TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while next_event(self.health, deadline - time.monotonic(), f"health {wanted}") != wanted:
            pass


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


def scanner_box(tmp_path: Path, lane: str = "3") -> tuple[PtyPort, Path]:
    """A plugged pty for one barcode scanner, and a box config with that scanner at `lane`
    and no kiosk: the smallest `carec-edge run` that takes readings."""
    port = PtyPort(tmp_path / "scanner.tty")
    port.plug()
    config = tmp_path / "box.toml"
    config.write_text(
        f'[kiosk]\nenabled = false\n\n[[devices]]\nkind = "barcode"\nid = "scanner-1"\n'
        f'port = "{port.path}"\nlane = "{lane}"\n',
        encoding="utf-8",
    )
    return port, config
