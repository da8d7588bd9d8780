"""The service with real drivers on real ptys: readings at a lane become one arrival, matched
against the cached record, and a device unplugged and replugged does not stop anything."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from drivers.sim.barcode import BarcodeScannerEmulator
from drivers.sim.camera import write_video
from drivers.sim.mrz_reader import MrzReaderEmulator
from drivers.sim.pty_port import PtyPort
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.database import DATABASE_NAME
from edge.timeutil import format_utc, utcnow
from tests.fixtures.records import record
from tests.integration.service_process import ServiceProcess

# The ICAO 9303 specimen passport.
PASSPORT = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


def test_readings_at_a_lane_become_one_matched_arrival(tmp_path: Path) -> None:
    data = tmp_path / "data"
    ManifestCache(open_database(data)).upsert(
        [
            parse_manifest(
                record(
                    ref="T1",
                    driver={"name": "ERIKSSON ANNA MARIA", "document_number": "L898902C3"},
                    # Due now on the box's clock (the service reads the same one), so the
                    # arrival window holds whatever the date or CAREC_EDGE_CLOCK_OFFSET.
                    expected_arrival=format_utc(utcnow()),
                )
            )
        ]
    )
    scanner_port, reader_port = PtyPort(tmp_path / "scanner.tty"), PtyPort(tmp_path / "mrz.tty")
    scanner_port.plug()
    reader_port.plug()
    config = tmp_path / "box.toml"
    config.write_text(
        f"""
[kiosk]
enabled = false

[[devices]]
kind = "barcode"
id = "scanner-1"
port = "{scanner_port.path}"
lane = "3"

[[devices]]
kind = "mrz"
id = "passport-1"
port = "{reader_port.path}"
lane = "3"
""",
        encoding="utf-8",
    )
    with ServiceProcess(config, data) as service:
        service.wait_log("service.ready")
        service.wait_log("device.health", "device=scanner-1", "health=connected")
        service.wait_log("device.health", "device=passport-1", "health=connected")
        BarcodeScannerEmulator(scanner_port).scan("XA81234567", "pdf417")
        service.wait_log("arrival.reading", "kind=barcode", "lane=3")
        scanner_port.unplug()
        service.wait_log("device.health", "device=scanner-1", "health=disconnected")
        MrzReaderEmulator(reader_port).swipe(PASSPORT)
        service.wait_log("arrival.reading", "kind=document", "lane=3")
        scanner_port.plug()
        service.wait_log("device.health", "device=scanner-1", "health=connected")
        assert service.stop() == 0
    with sqlite3.connect(data / DATABASE_NAME) as db:
        arrivals = db.execute(
            "SELECT id, lane, opened_by, best_ref, match FROM arrivals"
        ).fetchall()
        kinds = [k for (k,) in db.execute("SELECT kind FROM arrival_readings ORDER BY seq")]
    assert len(arrivals) == 1
    _, lane, opened_by, best_ref, match = arrivals[0]
    assert (lane, opened_by, best_ref) == ("3", "barcode", "T1")
    assert kinds == ["barcode", "document"]
    best = json.loads(match)["candidates"][0]
    assert [d["code"] for d in best["discrepancies"]] == []


def test_the_lane_camera_opens_an_arrival_when_a_truck_comes(tmp_path: Path) -> None:
    video = write_video(tmp_path / "lane.avi", ["777 ABC 02"], fps=10.0)
    config = tmp_path / "box.toml"
    config.write_text(
        f'[kiosk]\nenabled = false\n\n[[devices]]\nkind = "camera"\nid = "cam-1"\nlane = "2"\nsource = "{video}"\nloop = true\n',
        encoding="utf-8",
    )
    data = tmp_path / "data"
    with ServiceProcess(config, data) as service:
        service.wait_log("arrival.reading", "device=cam-1", "kind=presence", "lane=2")
        assert service.stop() == 0
    with sqlite3.connect(data / DATABASE_NAME) as db:
        opened = db.execute("SELECT lane, opened_by FROM arrivals").fetchall()
    assert opened[0] == ("2", "camera")
