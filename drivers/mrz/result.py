"""What parsing an MRZ gives: the fields, each named check digit, each named problem."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, Literal

from drivers.mrz.layouts import MrzFormat

Sex = Literal["M", "F", "X"]


class MrzFormatError(ValueError):
    """The text cannot be an MRZ of any format; the message says why."""


@dataclass(frozen=True)
class Check:
    """One check digit: `found` in the MRZ, `expected` from the data it covers (None when that
    data holds a character without a value)."""

    name: str  # document_number, birth_date, expiry_date, optional_data or composite
    passed: bool
    found: str
    expected: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"passed": self.passed, "found": self.found, "expected": self.expected}


@dataclass(frozen=True)
class MrzProblem:
    """A structural problem of one field: a bad character, a date that is no date, ..."""

    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.field}: {self.message}"

    def to_dict(self) -> dict[str, str]:
        return {"field": self.field, "message": self.message}


@dataclass(frozen=True)
class MrzResult:
    """A parsed MRZ. Codes, numbers and optional data lose their trailing '<' fillers. Names are
    given twice: as written in the MRZ (`surname_mrz`, `given_names_mrz`, fillers kept, national
    characters already transliterated by the issuer) and readable (fillers become spaces)."""

    format: MrzFormat
    document_code: str  # P, I, ID, AC, V, ...
    issuing_state: str  # ICAO code: ISO 3166-1 alpha-3, or D, UNO, XXA, ...
    surname: str
    given_names: str
    surname_mrz: str
    given_names_mrz: str
    document_number: str  # in full, also when it continues into the optional data
    nationality: str
    birth_date: dt.date | None  # None when unknown ('<' in the MRZ) or not a date (see errors)
    expiry_date: dt.date | None
    sex: Sex | None  # X for '<' (unspecified); None when the MRZ holds something else
    optional_data: str  # TD3: the personal number; TD1: line 1; after a long document number
    optional_data_2: str  # TD1 line 2; empty for other formats
    lines: tuple[str, ...]
    checks: tuple[Check, ...]
    errors: tuple[MrzProblem, ...]

    @property
    def valid(self) -> bool:
        return not self.errors and all(check.passed for check in self.checks)

    @property
    def failed_checks(self) -> tuple[str, ...]:
        return tuple(check.name for check in self.checks if not check.passed)

    def check(self, name: str) -> Check | None:
        return next((check for check in self.checks if check.name == name), None)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates in ISO 8601, the format and sex as strings."""
        return {
            "format": self.format.value,
            "valid": self.valid,
            "document_code": self.document_code,
            "issuing_state": self.issuing_state,
            "surname": self.surname,
            "given_names": self.given_names,
            "surname_mrz": self.surname_mrz,
            "given_names_mrz": self.given_names_mrz,
            "document_number": self.document_number,
            "nationality": self.nationality,
            "birth_date": _iso(self.birth_date),
            "expiry_date": _iso(self.expiry_date),
            "sex": self.sex,
            "optional_data": self.optional_data,
            "optional_data_2": self.optional_data_2,
            "lines": list(self.lines),
            "checks": {check.name: check.to_dict() for check in self.checks},
            "failed_checks": list(self.failed_checks),
            "errors": [error.to_dict() for error in self.errors],
        }


def _iso(day: dt.date | None) -> str | None:
    return day.isoformat() if day else None
