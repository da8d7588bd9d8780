"""Discrepancies: every way an arriving truck can differ from its pre-arrival record, by a
stable code that the kiosk, the outbox and the partner post all understand."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class DiscrepancyCode(StrEnum):
    NO_PRE_ARRIVAL = "NO_PRE_ARRIVAL"  # no record fits the truck at all
    PLATE_APPROXIMATE = "PLATE_APPROXIMATE"  # the plate read differs from the record's
    TRAILER_MISMATCH = "TRAILER_MISMATCH"  # a trailer read fits none of the record's trailers
    SEAL_MISSING = "SEAL_MISSING"  # a seal of the record was not read
    SEAL_UNEXPECTED = "SEAL_UNEXPECTED"  # a seal was read that the record does not list
    DRIVER_DOCUMENT_MISMATCH = "DRIVER_DOCUMENT_MISMATCH"  # the document is not the record's
    TRANSIT_DOCUMENT_MISMATCH = "TRANSIT_DOCUMENT_MISMATCH"  # a scanned ref/TIR/CMR is not its
    OUTSIDE_ARRIVAL_WINDOW = "OUTSIDE_ARRIVAL_WINDOW"  # too early or too late for the record


@dataclass(frozen=True)
class Discrepancy:
    code: DiscrepancyCode
    detail: str
    expected: str | None = None
    observed: str | None = None

    def to_dict(self) -> dict[str, str]:
        out = {"code": self.code.value, "detail": self.detail}
        if self.expected is not None:
            out["expected"] = self.expected
        if self.observed is not None:
            out["observed"] = self.observed
        return out
