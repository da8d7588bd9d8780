"""`carec-edge run` serves the kiosk on loopback, and a reading at a lane shows on its queue."""

from __future__ import annotations

import urllib.request
from pathlib import Path

from sync.broker_process import free_port
from tests.integration.service_process import CarecProcess, ServiceProcess


def test_the_service_serves_the_kiosk_on_loopback(tmp_path: Path) -> None:
    port = free_port()
    config = tmp_path / "box.toml"
    config.write_text(f"[kiosk]\nport = {port}\n", encoding="utf-8")
    with ServiceProcess(config, tmp_path / "data") as service:
        service.wait_log("service.ready")
        service.wait_log("kiosk.serving", f"127.0.0.1:{port}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=60) as response:
            page = response.read().decode()
        assert response.status == 200
        assert "<form" in page
        assert service.stop() == 0


def test_a_taken_port_leaves_the_rest_of_the_box_running(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "box.toml"
        config.write_text(f"[kiosk]\nport = {port}\n", encoding="utf-8")
        with ServiceProcess(config, tmp_path / "data") as service:
            service.wait_log("service.ready")
            service.wait_log("kiosk.not_serving")
            assert service.process.poll() is None
            assert service.stop() == 0


def test_the_kiosk_alone_serves_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    port = free_port()
    with CarecProcess(tmp_path / "data", "kiosk", "--port", str(port)) as kiosk:
        kiosk.wait_log("Uvicorn running on", f"127.0.0.1:{port}")
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/login", timeout=60) as response:
            assert response.status == 200
        assert kiosk.stop() == 0
