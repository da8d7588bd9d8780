"""What a scan typed into the kiosk is, read by the drivers' own parsers: a passport's MRZ with
every check digit, or a code's payload (MRN, TIR carnet, CMR, seal, container). The kiosk may
not import drivers; the service hands it this classifier."""

from __future__ import annotations

import datetime as dt

from drivers.codes import parse_payload
from drivers.mrz import MrzFormatError, parse_mrz
from edge.readings import BarcodeRead, DocumentRead, Reading

DEVICE = "kiosk"  # the device id of readings scanned into the kiosk


def classify_scan(text: str, at: dt.datetime, seal_patterns: tuple[str, ...] = ()) -> Reading:
    lines = [line.strip() for line in text.replace("\r", "\n").split("\n") if line.strip()]
    if len(lines) in (2, 3):
        try:
            result = parse_mrz(lines)
        except MrzFormatError:
            pass
        else:
            return DocumentRead(DEVICE, at, result.to_dict(), result.valid, result.failed_checks)
    raw = " ".join(text.split())
    payload = parse_payload(raw, None, seal_patterns=seal_patterns)
    if payload is None:
        # Text no rule recognises: keep it as a seal id (what officers type by hand most).
        return BarcodeRead(DEVICE, at, raw, payload={"kind": "seal", "valid": True, "seals": [raw]})
    return BarcodeRead(DEVICE, at, raw, payload=payload.to_dict())
