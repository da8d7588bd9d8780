"""A reading the store refuses while attaching it is quarantined like any reading that raises
(it used to be dropped with a log line), and the log line names no value of it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from drivers.sim.barcode import BarcodeScannerEmulator
from edge.store.database import DATABASE_NAME, open_database
from tests.integration.serial_harness import scanner_box
from tests.integration.service_process import ServiceProcess


def test_a_reading_the_store_refuses_is_quarantined_too(tmp_path: Path) -> None:
    """A store error while attaching (here a trigger refusing one reading's row) used to drop
    the reading with a log line; it is kept in the quarantine like any reading that raises."""
    port, config = scanner_box(tmp_path)
    data = tmp_path / "data"
    open_database(data).dispose()
    with sqlite3.connect(data / DATABASE_NAME) as db:
        db.execute(
            "CREATE TRIGGER refuse_one BEFORE INSERT ON arrival_readings"
            " WHEN json_extract(NEW.reading, '$.text') = 'XA81234567'"
            " BEGIN SELECT RAISE(ABORT, 'refused by the test'); END"
        )
    with ServiceProcess(config, data) as service:
        service.wait_log("device.health", "device=scanner-1", "health=connected")
        scanner = BarcodeScannerEmulator(port)
        scanner.scan("XA81234567", "pdf417")
        failed = service.wait_log("arrival.store_failed", "device=scanner-1")
        assert "refused by the test" in failed
        assert "XA81234567" not in failed
        quarantined = service.wait_log("reading.quarantined", "device=scanner-1")
        assert "error=IntegrityError" in quarantined
        scanner.scan("XA81234568", "pdf417")
        service.wait_log("arrival.reading", "kind=barcode", "lane=3")
        assert service.stop() == 0
    with sqlite3.connect(data / DATABASE_NAME) as db:
        rows = db.execute("SELECT reason, reading FROM reading_quarantine").fetchall()
    [(reason, reading)] = rows
    assert reason == "IntegrityError: refused by the test"
    assert json.loads(reading)["text"] == "XA81234567"
