"""The serial barcode driver against its emulator over a real pty, through every line fault."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from drivers.barcode import BarcodeProtocol, BarcodeScannerConfig
from drivers.sim.barcode import BarcodeScannerEmulator
from drivers.sim.faults import Faults
from edge.readings import BarcodeRead, Health
from tests.integration.serial_harness import serial_pair

CODES = [("XA81234567", "code128"), ("26KZ00010000000123", "qr"), ("CSQU3054383", "code128"),
         ("ПЛОМБА-77", "qr"), ("KZC1234567", "pdf417"), ("TIR=XA81234567;SEAL=KZC1", "datamatrix")]  # fmt: skip


def config(**changes: object) -> BarcodeScannerConfig:
    return BarcodeScannerConfig(id="scanner-1", port="unused", **changes)  # type: ignore[arg-type]


FAULTS = {
    "clean": Faults(),
    "split frames": Faults(split=1.0),
    "byte by byte, slowly": Faults(byte_delay_s=0.002),
    "line noise": Faults(noise=0.7),
}


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
def test_every_scan_arrives_with_its_symbology(tmp_path: Path, fault: Faults) -> None:
    # Scanners on noisy lines are set to frame scans (STX ... ETX), so noise can be told apart.
    settings = {"prefix": "\x02", "suffix": "\x03"} if fault.noise else {}
    with serial_pair(tmp_path, BarcodeProtocol(config(**settings))) as pair:
        scanner = BarcodeScannerEmulator(pair.port, faults=fault, rng=random.Random(3), **settings)
        for text, symbology in CODES:
            scanner.scan(text, symbology)
        reads = pair.readings_until(len(CODES))
    assert all(isinstance(r, BarcodeRead) for r in reads)
    assert [(r.text, r.symbology) for r in reads if isinstance(r, BarcodeRead)] == CODES
    assert all(r.device == "scanner-1" and r.at.tzinfo is not None for r in reads)


def test_duplicate_reads_are_reported_as_the_scanner_sent_them(tmp_path: Path) -> None:
    with serial_pair(tmp_path, BarcodeProtocol(config())) as pair:
        scanner = BarcodeScannerEmulator(pair.port, faults=Faults(duplicate=1.0))
        scanner.scan("KZC1234567")
        reads = pair.readings_until(2)
    assert [r.text for r in reads if isinstance(r, BarcodeRead)] == ["KZC1234567"] * 2


def test_garbage_between_framed_scans_is_rejected_and_counted(tmp_path: Path) -> None:
    settings = {"prefix": "\x02", "suffix": "\x03"}
    with serial_pair(tmp_path, BarcodeProtocol(config(**settings))) as pair:
        pair.port.write(b"\xff\xfe garbage \x07\r")
        scanner = BarcodeScannerEmulator(pair.port, **settings)
        scanner.scan("KZC1234567")
        read = pair.next_reading()
        reason = pair.next_reject()
    assert isinstance(read, BarcodeRead)
    assert read.text == "KZC1234567"
    assert "prefix" in reason or "UTF-8" in reason or "utf-8" in reason
    assert pair.device.stats.rejects >= 1


def test_scanner_unplugged_and_replugged_reconnects_by_itself(tmp_path: Path) -> None:
    with serial_pair(tmp_path, BarcodeProtocol(config())) as pair:
        scanner = BarcodeScannerEmulator(pair.port)
        scanner.scan("BEFORE")
        assert pair.next_reading().text == "BEFORE"  # type: ignore[attr-defined]
        pair.port.unplug()
        pair.wait_health(Health.DISCONNECTED)
        pair.port.plug()
        pair.wait_health(Health.CONNECTED)
        scanner.scan("AFTER")
        assert pair.next_reading().text == "AFTER"  # type: ignore[attr-defined]
    assert pair.device.stats.reconnects >= 1


def test_port_missing_at_start_is_waited_for(tmp_path: Path) -> None:
    with serial_pair(tmp_path, BarcodeProtocol(config())) as pair:
        pair.port.unplug()
        pair.wait_health(Health.DISCONNECTED)
        pair.port.plug()
        pair.wait_health(Health.CONNECTED)
        BarcodeScannerEmulator(pair.port).scan("LATE")
        assert pair.next_reading().text == "LATE"  # type: ignore[attr-defined]


ID_CARD_PDF417 = "ANSI 636000080002DL00410278ZV03190008DLDAQT64235789DCSSAMPLE DACJOHN"


@pytest.mark.parametrize(
    ("settings", "sent"),
    [
        ({"aim": "on"}, ID_CARD_PDF417.encode() + b"\r"),  # no AIM identifier
        ({}, ID_CARD_PDF417.encode() + b"\x07\r"),  # a control character
        ({}, ID_CARD_PDF417.encode() + b"\xff\r"),  # not UTF-8
        ({"prefix": "\x02", "suffix": "\x03"}, ID_CARD_PDF417.encode() + b"\x03\r"),  # no STX
    ],
    ids=["no AIM", "control character", "not UTF-8", "no prefix"],
)
def test_a_rejected_scan_is_described_by_its_length_never_quoted(
    tmp_path: Path, settings: dict[str, str], sent: bytes
) -> None:
    with serial_pair(tmp_path, BarcodeProtocol(config(**settings))) as pair:
        pair.port.write(sent)
        reason = pair.next_reject()
    for part in ("ANSI", "DAQT6", "SAMPLE", "JOHN"):  # the scan's text, the holder's name
        assert part not in reason, reason
    length = len(sent) - 1  # what the driver got, without the line's terminator
    assert re.search(rf"\b({length}|{length - 1}) (bytes|characters)|of {length}\b", reason), reason
