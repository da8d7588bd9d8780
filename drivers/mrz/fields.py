"""How single MRZ fields read: which characters they allow, names, dates and sex."""

from __future__ import annotations

import datetime as dt
import string
from dataclasses import dataclass

from drivers.mrz.layouts import Span
from drivers.mrz.result import MrzProblem, Sex

FILLER = "<"


@dataclass(frozen=True)
class Characters:
    """The characters a field allows, and how to say so."""

    allowed: frozenset[str]
    described: str

    def problem(self, field: str, text: str, span: Span) -> MrzProblem | None:
        bad = [f"{char!r} at {span.position(i)}" for i, char in enumerate(text) if char not in self]
        if not bad:
            return None
        return MrzProblem(field, f"{', '.join(bad)}: only {self.described} belong here")

    def __contains__(self, char: object) -> bool:
        return char in self.allowed


LETTERS = Characters(frozenset(string.ascii_uppercase + FILLER), "A-Z and <")
ALPHANUMERIC = Characters(
    frozenset(string.ascii_uppercase + string.digits + FILLER), "A-Z, 0-9 and <"
)
DIGITS = Characters(frozenset(string.digits + FILLER), "0-9 and < (unknown)")
SEXES = Characters(frozenset("MFX" + FILLER), "M, F and < (unspecified)")


def name_parts(field: str) -> tuple[str, str]:
    """Primary and secondary identifiers as written: the filler padding goes, the single
    fillers between names stay. 'ERIKSSON<<ANNA<MARIA<<<' -> ('ERIKSSON', 'ANNA<MARIA')."""
    surname, _, given_names = field.rstrip(FILLER).partition(FILLER * 2)
    return surname, given_names


def readable(written: str) -> str:
    """'ANNA<MARIA' -> 'ANNA MARIA'."""
    return " ".join(part for part in written.split(FILLER) if part)


def sex(code: str) -> Sex | None:
    if code in ("M", "F"):
        return "M" if code == "M" else "F"
    return "X" if code in ("X", FILLER) else None


def birth_date(yymmdd: str, today: dt.date) -> dt.date:
    """The century that puts the date in the 100 years up to today. ValueError if no date."""
    year, month, day = _numbers(yymmdd)
    year = today.year - (today.year - year) % 100
    if year == today.year and (month, day) > (today.month, today.day):
        year -= 100
    return dt.date(year, month, day)


def expiry_date(yymmdd: str, today: dt.date) -> dt.date:
    """The century that puts the date between 79 years ago and 20 years ahead (by year)."""
    year, month, day = _numbers(yymmdd)
    latest = today.year + 20
    return dt.date(latest - (latest - year) % 100, month, day)


def _numbers(yymmdd: str) -> tuple[int, int, int]:
    if len(yymmdd) != 6 or not all(char in string.digits for char in yymmdd):
        raise ValueError(f"{yymmdd!r} is not six digits")
    return int(yymmdd[:2]), int(yymmdd[2:4]), int(yymmdd[4:])
