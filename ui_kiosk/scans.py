"""What a keyboard-wedge scanner typed into a truck's page, as a typed reading.

This is the default `ScanClassifier`, by shape only; the wiring may hand the backend the
drivers' parsers instead (MRZ check digits, MRN check characters, configured seal patterns).

- MRZ lines (two of 44 or 36, three of 30, `<` fillers): a `DocumentRead` whose document number
  is taken from its place in the MRZ; its check digits are not verified here, so it says so
  (`valid=False`, failed check `not_verified`), and the matcher still compares the number.
- `MRN:`, `TIR:`, `CMR:`, `SEAL:` or `CONTAINER:` before the value says what it is.
- otherwise: 18 characters starting with two digits and two letters is an MRN (or a record's
  ref), two letters and eight digits a TIR carnet, four letters and seven digits an ISO 6346
  container, and anything else a seal (the officer scans seals most).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

from edge.readings import BarcodeRead, DocumentRead, Reading

DEVICE = "kiosk"  # the device id of readings scanned into the kiosk
MAX_SCAN_CHARS = 512

ScanClassifier = Callable[[str, dt.datetime], Reading]

_MRZ_LINE = re.compile(r"^[A-Z0-9<]+$")
_MRN = re.compile(r"^[0-9]{2}[A-Z]{2}[A-Z0-9]{14}$")
_TIR = re.compile(r"^[A-Z]{2}[0-9]{8}$")
_CONTAINER = re.compile(r"^[A-Z]{4}[0-9]{7}$")
_KEYED = {"MRN": "mrn", "TIR": "tir_carnet", "CMR": "cmr", "SEAL": "seal", "CONTAINER": "container"}


def mrz_lines(text: str) -> list[str] | None:
    """The MRZ lines of `text`, when it is an MRZ (with or without line breaks)."""
    compact = text.strip().upper()
    lines = [line.strip() for line in compact.splitlines() if line.strip()]
    if len(lines) == 1:
        whole = lines[0]
        width = {90: 30, 72: 36, 88: 44}.get(len(whole))
        if width is None:
            return None
        lines = [whole[i : i + width] for i in range(0, len(whole), width)]
    shapes = {(3, 30), (2, 36), (2, 44)}
    if (len(lines), len(lines[0]) if lines else 0) not in shapes:
        return None
    if len({len(line) for line in lines}) != 1 or "<" not in "".join(lines):
        return None
    return lines if all(_MRZ_LINE.match(line) for line in lines) else None


def mrz_document_number(lines: list[str]) -> str:
    """TD1 (three lines of 30): line 1, characters 6-14; TD2 and TD3: line 2, characters 1-9."""
    field = lines[0][5:14] if len(lines) == 3 else lines[1][0:9]
    return field.replace("<", "")


def classify_scan(text: str, at: dt.datetime) -> Reading:
    lines = mrz_lines(text)
    if lines is not None:
        mrz = {"document_number": mrz_document_number(lines), "lines": lines}
        return DocumentRead(DEVICE, at, mrz, valid=False, failed_checks=("not_verified",))
    raw = " ".join(text.split())
    key, _, value = raw.partition(":")
    field = _KEYED.get(key.strip().upper())
    if field is None or not value.strip():
        field, value = _shape(raw), raw
    value = value.strip()
    payload: dict[str, object] = {"kind": field, "valid": True}
    if field == "seal":
        payload["seals"] = [value]
    elif field == "container":
        payload["containers"] = [value]
    else:
        payload[field] = value
    return BarcodeRead(DEVICE, at, raw, payload=payload)


def _shape(text: str) -> str:
    compact = text.replace(" ", "").replace("-", "").upper()
    if _MRN.match(compact):
        return "mrn"
    if _TIR.match(compact):
        return "tir_carnet"
    if _CONTAINER.match(compact):
        return "container"
    return "seal"
