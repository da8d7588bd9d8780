"""`parse_mrz`: read every field of an MRZ and verify every check digit, naming what fails."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable

from drivers.mrz import fields
from drivers.mrz.check_digit import check_digit
from drivers.mrz.fields import ALPHANUMERIC, DIGITS, FILLER, LETTERS, SEXES, Characters
from drivers.mrz.layouts import Layout, Span
from drivers.mrz.lines import choose_layout, split_lines
from drivers.mrz.result import Check, MrzProblem, MrzResult
from edge.timeutil import utcnow


def parse_mrz(text: str | Iterable[str], *, today: dt.date | None = None) -> MrzResult:
    """Parse the MRZ lines as a document reader sends them (blank lines, surrounding blanks, CR/LF
    and lower case are forgiven; so are all lines in one run). Bad content gives an invalid
    result naming the failed checks and fields; MrzFormatError only when the text cannot be an
    MRZ at all. `today` (UTC by default) resolves the centuries of the dates."""
    lines = split_lines(text)
    layout = choose_layout(lines)
    return _Reader(layout, lines, today or utcnow().date()).result()


class _Reader:
    def __init__(self, layout: Layout, lines: tuple[str, ...], today: dt.date) -> None:
        self.layout = layout
        self.lines = lines
        self.today = today
        self.checks: list[Check] = []
        self.errors: list[MrzProblem] = []

    def result(self) -> MrzResult:
        layout = self.layout
        document_code = self._code("document_code", layout.document_code)
        if document_code[:1] in ("", FILLER):
            self._problem(
                "document_code", "empty: its first letter names the document (P, I, V, ...)"
            )
        issuing_state = self._code("issuing_state", layout.issuing_state)
        nationality = self._code("nationality", layout.nationality)
        sex = fields.sex(self._text("sex", layout.sex, SEXES))
        surname, given_names = fields.name_parts(self._text("name", layout.name, LETTERS))
        if not surname and not given_names:
            self._problem("name", "empty")
        document_number, optional_data = self._document_number()
        birth_date = self._date("birth_date", layout.birth_date, fields.birth_date)
        self._check("birth_date", layout.birth_date.of(self.lines), layout.birth_date_check)
        expiry_date = self._date("expiry_date", layout.expiry_date, fields.expiry_date)
        self._check("expiry_date", layout.expiry_date.of(self.lines), layout.expiry_date_check)
        if layout.optional_data_check:
            data = layout.optional_data.of(self.lines)
            self._check("optional_data", data, layout.optional_data_check, empty_as_filler=True)
        optional_data_2 = ""
        if layout.optional_data_2:
            optional_data_2 = self._text("optional_data_2", layout.optional_data_2, ALPHANUMERIC)
        if layout.composite_check:
            data = "".join(span.of(self.lines) for span in layout.composite)
            self._check("composite", data, layout.composite_check)
        return MrzResult(
            format=layout.format,
            document_code=document_code,
            issuing_state=issuing_state,
            surname=fields.readable(surname),
            given_names=fields.readable(given_names),
            surname_mrz=surname,
            given_names_mrz=given_names,
            document_number=document_number,
            nationality=nationality,
            birth_date=birth_date,
            expiry_date=expiry_date,
            sex=sex,
            optional_data=optional_data.rstrip(FILLER),
            optional_data_2=optional_data_2.rstrip(FILLER),
            lines=self.lines,
            checks=tuple(self.checks),
            errors=tuple(self.errors),
        )

    def _document_number(self) -> tuple[str, str]:
        """The number and the optional data after it. A number over 9 characters (TD1, TD2)
        has '<' for its check digit and continues in the optional data, then its check digit
        and a filler."""
        layout = self.layout
        number = self._text("document_number", layout.document_number, ALPHANUMERIC)
        optional = self._text("optional_data", layout.optional_data, ALPHANUMERIC)
        continues = layout.document_number_check.of(self.lines) == FILLER
        if layout.long_document_number and continues and optional[:1] not in ("", FILLER):
            rest = optional.split(FILLER, 1)[0]
            number += rest[:-1]
            self._check("document_number", number, layout.optional_data.at(len(rest) - 1))
            return number.rstrip(FILLER), optional[len(rest) + 1 :]
        self._check("document_number", number, layout.document_number_check)
        return number.rstrip(FILLER), optional

    def _code(self, field: str, span: Span) -> str:
        code = self._text(field, span, LETTERS).rstrip(FILLER)
        if not code and field != "document_code":
            self._problem(field, f"empty at {span.position()}")
        return code

    def _date(
        self, field: str, span: Span, resolve: Callable[[str, dt.date], dt.date]
    ) -> dt.date | None:
        yymmdd = self._text(field, span, DIGITS)
        if any(char not in DIGITS for char in yymmdd) or FILLER in yymmdd:
            return None  # a bad character is already named; '<' marks an unknown date
        try:
            return resolve(yymmdd, self.today)
        except ValueError:
            self._problem(field, f"{yymmdd} at {span.position()} is not a date (YYMMDD)")
            return None

    def _text(self, field: str, span: Span, characters: Characters) -> str:
        text = span.of(self.lines)
        problem = characters.problem(field, text, span)
        if problem:
            self.errors.append(problem)
        return text

    def _check(self, name: str, data: str, span: Span, *, empty_as_filler: bool = False) -> None:
        found = span.of(self.lines)
        expected = check_digit(data)
        empty = set(data) == {FILLER}
        passed = found == expected or (empty_as_filler and empty and found == FILLER)
        self.checks.append(Check(name, passed, found, expected))

    def _problem(self, field: str, message: str) -> None:
        self.errors.append(MrzProblem(field, message))
