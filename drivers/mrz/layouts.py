"""Where each field sits in each MRZ format: TD1, TD2, TD3 and the visas MRV-A and MRV-B."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class MrzFormat(StrEnum):
    TD1 = "TD1"  # ID cards: 3 lines of 30
    TD2 = "TD2"  # ID cards, older: 2 lines of 36
    TD3 = "TD3"  # passports: 2 lines of 44
    MRV_A = "MRV-A"  # visas, full page: 2 lines of 44
    MRV_B = "MRV-B"  # visas, smaller: 2 lines of 36


@dataclass(frozen=True)
class Span:
    """Characters `start` to `end` (exclusive, 0-based) of line `line` (0-based)."""

    line: int
    start: int
    end: int

    def of(self, lines: tuple[str, ...]) -> str:
        return lines[self.line][self.start : self.end]

    def at(self, offset: int) -> Span:
        """The one character `offset` places into this span."""
        return Span(self.line, self.start + offset, self.start + offset + 1)

    def position(self, offset: int = 0) -> str:
        """`offset` places into the span, for people: 'line 2 position 14' (1-based)."""
        return f"line {self.line + 1} position {self.start + offset + 1}"


@dataclass(frozen=True)
class Layout:
    format: MrzFormat
    line_count: int
    line_length: int
    document_code: Span
    issuing_state: Span
    name: Span
    document_number: Span
    document_number_check: Span
    nationality: Span
    birth_date: Span
    birth_date_check: Span
    sex: Span
    expiry_date: Span
    expiry_date_check: Span
    optional_data: Span
    optional_data_check: Span | None = None  # TD3: the personal number's check digit
    optional_data_2: Span | None = None  # TD1 only
    composite_check: Span | None = None  # visas have none
    composite: tuple[Span, ...] = ()  # what the composite check digit covers
    long_document_number: bool = False  # over 9 characters, it continues in the optional data


def _two_lines(
    mrz_format: MrzFormat, length: int, *, composite: bool, personal_number: bool = False
) -> Layout:
    """TD2, TD3 and the visas share their first line and the first 28 places of the second."""
    composite_at = length - 1 if composite else length
    optional_end = composite_at - 1 if personal_number else composite_at
    return Layout(
        format=mrz_format,
        line_count=2,
        line_length=length,
        document_code=Span(0, 0, 2),
        issuing_state=Span(0, 2, 5),
        name=Span(0, 5, length),
        document_number=Span(1, 0, 9),
        document_number_check=Span(1, 9, 10),
        nationality=Span(1, 10, 13),
        birth_date=Span(1, 13, 19),
        birth_date_check=Span(1, 19, 20),
        sex=Span(1, 20, 21),
        expiry_date=Span(1, 21, 27),
        expiry_date_check=Span(1, 27, 28),
        optional_data=Span(1, 28, optional_end),
        optional_data_check=Span(1, optional_end, composite_at) if personal_number else None,
        composite_check=Span(1, composite_at, length) if composite else None,
        composite=(Span(1, 0, 10), Span(1, 13, 20), Span(1, 21, composite_at)) if composite else (),
        long_document_number=mrz_format is MrzFormat.TD2,
    )


TD1 = Layout(
    format=MrzFormat.TD1,
    line_count=3,
    line_length=30,
    document_code=Span(0, 0, 2),
    issuing_state=Span(0, 2, 5),
    document_number=Span(0, 5, 14),
    document_number_check=Span(0, 14, 15),
    optional_data=Span(0, 15, 30),
    birth_date=Span(1, 0, 6),
    birth_date_check=Span(1, 6, 7),
    sex=Span(1, 7, 8),
    expiry_date=Span(1, 8, 14),
    expiry_date_check=Span(1, 14, 15),
    nationality=Span(1, 15, 18),
    optional_data_2=Span(1, 18, 29),
    composite_check=Span(1, 29, 30),
    composite=(Span(0, 5, 30), Span(1, 0, 7), Span(1, 8, 15), Span(1, 18, 29)),
    name=Span(2, 0, 30),
    long_document_number=True,
)
TD2 = _two_lines(MrzFormat.TD2, 36, composite=True)
TD3 = _two_lines(MrzFormat.TD3, 44, composite=True, personal_number=True)
MRV_A = _two_lines(MrzFormat.MRV_A, 44, composite=False)
MRV_B = _two_lines(MrzFormat.MRV_B, 36, composite=False)
