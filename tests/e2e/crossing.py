"""A lane of the crossing for end-to-end tests: its devices' emulators on real ptys, a camera
that sees a video of a truck once the test drives one in, the truck's pre-arrival record, and
the config file of a box (`carec-edge run`) that serves the kiosk and reads the lane."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path
from typing import Any

from drivers.sim.barcode import BarcodeScannerEmulator
from drivers.sim.camera import write_video
from drivers.sim.eseal import ESealReaderEmulator
from drivers.sim.mrz_reader import MrzReaderEmulator
from drivers.sim.pty_port import PtyPort
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.officers import OfficerStore, seed_demo_officers
from edge.store import open_database
from edge.store.database import DATABASE_NAME
from edge.timeutil import format_utc, utcnow
from tests.fixtures.records import record

NODE = "KZ-NURZHOLY-1"
CIS = "KZ-CIS"
LANE = "3"
PLATE = "777 ABC 02"
REF = "26KZ00010000000123"
TIR_CARNET = "XA81234567"
E_SEAL = "0A1F-0012D687"
MECHANICAL_SEAL = "KZC1234567"
# The ICAO 9303 specimen passport: its check digits are right.
PASSPORT = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)


def expected_now(**changes: Any) -> dict[str, Any]:
    """A record (the contract's example with `changes`) expected about now, so that the truck
    is on time whatever day the tests run."""
    return record(expected_arrival=format_utc(utcnow()), **changes)


def truck_record() -> dict[str, Any]:
    """The record of the truck the lane sees: its driver holds the specimen passport, and it
    carries one electronic seal and one mechanical seal."""
    return expected_now(
        ref=REF,
        tir_carnet=TIR_CARNET,
        driver={"name": "ERIKSSON ANNA MARIA", "document_number": "L898902C3"},
        seals=[{"id": E_SEAL, "type": "electronic"}, {"id": MECHANICAL_SEAL}],
    )


def prepare_store(data_dir: Path, *records: dict[str, Any], demo_officers: bool = False) -> None:
    """The box's store with these pre-arrival records (and the demo officers)."""
    engine = open_database(data_dir)
    try:
        ManifestCache(engine).upsert([parse_manifest(r) for r in records])
        if demo_officers:
            seed_demo_officers(OfficerStore(engine))
    finally:
        engine.dispose()


def query(data_dir: Path, sql: str, *args: object) -> list[tuple[Any, ...]]:
    """Rows straight from the box's SQLite file."""
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        return db.execute(sql, args).fetchall()


def stored_readings(data_dir: Path, arrival_id: int) -> list[dict[str, Any]]:
    rows = query(
        data_dir,
        "SELECT reading FROM arrival_readings WHERE arrival_id = ? ORDER BY seq",
        arrival_id,
    )
    return [json.loads(text) for (text,) in rows]


class Lane:
    """The lane's devices as the test works them: a barcode scanner, a passport reader and an
    e-seal reader emulated on real ptys, and a camera whose video appears when a truck comes."""

    def __init__(self, directory: Path, lane: str = LANE) -> None:
        self.dir = directory
        self.lane = lane
        self.ports = {
            name: PtyPort(directory / f"{name}.tty") for name in ("scanner", "passport", "eseal")
        }
        for port in self.ports.values():
            port.plug()
        self.video = directory / "lane.avi"  # the camera retries until the file is there
        self.scanner = BarcodeScannerEmulator(self.ports["scanner"])
        self.passport_reader = MrzReaderEmulator(self.ports["passport"])
        self.eseal_reader = ESealReaderEmulator(self.ports["eseal"]).start()

    def device_tables(self) -> list[dict[str, Any]]:
        """The lane's `[[devices]]` tables, as in the box's config file."""
        lane = self.lane
        return [
            {"kind": "barcode", "id": "scanner-1", "lane": lane, "port": str(self.ports["scanner"].path)},
            {"kind": "mrz", "id": "passport-1", "lane": lane, "port": str(self.ports["passport"].path)},
            {"kind": "eseal", "id": "eseal-1", "lane": lane, "port": str(self.ports["eseal"].path)},
            {"kind": "camera", "id": "cam-1", "lane": lane, "source": str(self.video),
             "reconnect_initial_s": 0.2, "reconnect_max_s": 0.5, "open_timeout_s": 2.0},
        ]  # fmt: skip

    def drive_in(self, plate: str = PLATE) -> None:
        """A truck drives in front of the camera: its video appears, whole, where the camera
        looks (written aside, then renamed, so the camera never opens half a file)."""
        aside = self.dir / "lane.writing.avi"
        write_video(aside, [plate], fps=10, seconds_per_truck=2.0, gap_seconds=0.5, size=(320, 180))
        os.replace(aside, self.video)

    def camera_off(self) -> None:
        """The truck has been seen: the camera sees nothing more (no second pass of the video)."""
        self.video.unlink(missing_ok=True)

    def close(self) -> None:
        self.eseal_reader.stop()
        for port in self.ports.values():
            port.close()


def _toml(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def _table(header: str, values: dict[str, Any]) -> str:
    return f"{header}\n" + "".join(f"{key} = {_toml(v)}\n" for key, v in values.items()) + "\n"


def box_config(
    path: Path,
    *,
    kiosk_port: int,
    devices: list[dict[str, Any]],
    identity_dir: Path,
    trust_store: Path,
    ca_file: Path,
    cis_port: int,
) -> Path:
    """The box's config file: its kiosk on loopback, the lane's devices, and decisions sent to
    the national system through a broker at `cis_port` (none there: they wait in the outbox)."""
    text = _table("[node]", {"id": NODE})
    text += _table("[kiosk]", {"port": kiosk_port})
    text += _table(
        "[sync]",
        {"identity_dir": identity_dir, "trust_store": trust_store, "decisions_to": [CIS]},
    )
    text += _table(
        "[[sync.peers]]",
        {"name": "cis", "host": "127.0.0.1", "port": cis_port, "ca_file": ca_file, "destinations": [CIS]},
    )  # fmt: skip
    text += "".join(_table("[[devices]]", device) for device in devices)
    path.write_text(text, encoding="utf-8")
    return path
