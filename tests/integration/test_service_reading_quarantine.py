"""A reading that makes the service raise while attaching it to its lane is quarantined with
its reason, and the service goes on taking readings (it used to end the service)."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from drivers.sim.barcode import BarcodeScannerEmulator
from edge.store.database import DATABASE_NAME
from tests.integration.serial_harness import scanner_box
from tests.integration.service_process import ServiceProcess


def test_a_reading_that_raises_is_quarantined_and_the_service_goes_on(tmp_path: Path) -> None:
    port, config = scanner_box(tmp_path)
    data = tmp_path / "data"
    # The first reading's attaching raises (the fault point), the second goes through.
    faults = {"CAREC_EDGE_FAULTS": "service.reading=raise@1"}
    with ServiceProcess(config, data, env=faults) as service:
        service.wait_log("device.health", "device=scanner-1", "health=connected")
        scanner = BarcodeScannerEmulator(port)
        scanner.scan("XA81234567", "pdf417")
        quarantined = service.wait_log("reading.quarantined", "device=scanner-1")
        assert "error=InjectedFaultError" in quarantined
        scanner.scan("XA81234568", "pdf417")
        service.wait_log("arrival.reading", "kind=barcode", "lane=3")
        assert service.process.poll() is None
        assert service.stop() == 0
    with sqlite3.connect(data / DATABASE_NAME) as db:
        rows = db.execute("SELECT device, kind, reason, reading FROM reading_quarantine").fetchall()
        kept = [
            json.loads(r)["text"] for (r,) in db.execute("SELECT reading FROM arrival_readings")
        ]
    [(device, kind, reason, reading)] = rows
    assert (device, kind) == ("scanner-1", "barcode")
    assert reason == "InjectedFaultError: fault injected at service.reading"
    assert json.loads(reading)["text"] == "XA81234567"  # kept whole, for review
    assert kept == ["XA81234568"]
