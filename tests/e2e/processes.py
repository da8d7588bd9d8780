"""The kiosk as a real process (`carec-edge kiosk` alone); the general helper is
`tests.integration.service_process.CarecProcess`."""

from __future__ import annotations

import signal
from pathlib import Path
from typing import Self

from edge.officers import mark_demo_data_dir
from sync.broker_process import free_port
from tests.integration.service_process import CarecProcess

# How a kiosk process ends on SIGTERM: uvicorn shuts down gracefully, then raises the signal it
# caught again, so `carec-edge kiosk` dies of SIGTERM once its server has stopped.
STOPPED = (0, -signal.SIGTERM)


class KioskProcess(CarecProcess):
    """`carec-edge kiosk` alone over a data directory, on a free loopback port."""

    def __init__(
        self, data_dir: Path, *, demo_officers: bool = True, port: int | None = None
    ) -> None:
        self.port = port or free_port()  # a given port: the same kiosk again, after a restart
        extra = ["--demo-officers"] if demo_officers else []
        if demo_officers:
            mark_demo_data_dir(data_dir)  # the demo officers go only where the demo's marker is
        super().__init__(data_dir, "kiosk", "--port", str(self.port), *extra)
        self.url = f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 30.0) -> Self:
        self.wait_log("Uvicorn running on", timeout=timeout)
        return self
