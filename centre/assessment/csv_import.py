"""Scores from CSV, strictly: `group,area,<country>,<country>,...` then one row per area with a
score from 1 to 5 or N/A in each country's column (the shipped `data/ie-2019-scores.csv`).

An optional row `assessment,partial,yes,no,...` says whose assessment was partial. Without it a
country is partial when any of its areas is N/A: that is how the 2019 table marks China, the
only country with areas left unscored.

Every problem is named with its row (the header is row 1) and column; all of them are reported
at once (up to MAX_PROBLEMS), and nothing is taken from a file with any."""

from __future__ import annotations

import csv
import io
from decimal import Decimal

from centre.assessment.areas import AREAS, find_area
from centre.assessment.sheet import (
    MAX_COUNTRIES,
    Assessment,
    CountryScores,
    ScoreError,
    country_error,
    parse_score,
)

MAX_BYTES = 256 * 1024
MAX_PROBLEMS = 20
PARTIAL_GROUP, PARTIAL_AREA = "assessment", "partial"
YES, NO = frozenset({"yes", "true"}), frozenset({"no", "false"})


class AssessmentCsvError(ValueError):
    """The CSV's problems, each naming its row and column and the fix."""

    def __init__(self, source: str, problems: list[str]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(f"{source}: " + "; ".join(problems))


def read_scores_file(path: str, data: bytes) -> Assessment:
    """The assessment in `data` (the bytes of `path`, named in errors)."""
    if len(data) > MAX_BYTES:
        raise AssessmentCsvError(path, [f"{len(data)} bytes; a score sheet is at most {MAX_BYTES}"])
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise AssessmentCsvError(path, [f"not UTF-8 (byte {error.start})"]) from None
    return parse_scores(text, path)


def parse_scores(text: str, source: str = "scores.csv") -> Assessment:
    return _Reader(source).read(text)


class _Reader:
    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[str] = []

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)

    def read(self, text: str) -> Assessment:
        try:
            rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
        except csv.Error as error:
            raise AssessmentCsvError(self.source, [f"not CSV: {error}"]) from None
        rows = [row for row in rows if any(cell.strip() for cell in row)]
        if not rows:
            raise AssessmentCsvError(self.source, ["empty: the header is group,area,<countries>"])
        countries = self.header(rows[0])
        scores: dict[str, dict[str, Decimal | None]] = {c: {} for c in countries}
        partial: dict[str, bool] | None = None
        seen_rows: dict[str, int] = {}
        for number, row in enumerate(rows[1:], start=2):
            if len(row) != len(countries) + 2:
                self.problem(f"row {number}: {len(row)} cells; the header has {len(countries) + 2}")
                continue
            group, name = row[0].strip(), row[1].strip()
            if group.lower() == PARTIAL_GROUP and name.lower() == PARTIAL_AREA:
                if partial is not None:
                    self.problem(f"row {number}: a second {PARTIAL_GROUP},{PARTIAL_AREA} row")
                partial = self.partial_row(number, countries, row[2:])
                continue
            area = find_area(name)
            where = f"row {number} ({name or 'no area'})"
            if area is None:
                self.problem(f"{where}, column area: {name!r} is not one of the twenty key areas")
                continue
            if area.key in seen_rows:
                self.problem(f"{where}: {area.name} again (first at row {seen_rows[area.key]})")
                continue
            seen_rows[area.key] = number
            if group.lower() != area.group.value:
                self.problem(
                    f"{where}, column group: {group!r}; {area.name} is a {area.group.value} area"
                )
                continue
            for country, cell in zip(countries, row[2:], strict=True):
                try:
                    scores[country][area.key] = parse_score(cell)
                except ScoreError as error:
                    self.problem(f"{where}, column {country}: {error}")
        for area in AREAS:
            if area.key not in seen_rows:
                self.problem(
                    f"no row for {area.group.value} area {area.name!r}: add it (N/A where not "
                    "scored)"
                )
        if self.problems:
            raise AssessmentCsvError(self.source, self.problems)
        return Assessment(
            tuple(
                CountryScores(
                    country,
                    scores[country],
                    partial[country]
                    if partial is not None
                    else any(v is None for v in scores[country].values()),
                )
                for country in countries
            )
        )

    def header(self, row: list[str]) -> list[str]:
        cells = [cell.strip() for cell in row]
        if [c.lower() for c in cells[:2]] != ["group", "area"]:
            raise AssessmentCsvError(
                self.source, ["row 1: the header starts group,area, then one column per country"]
            )
        countries = cells[2:]
        problems = []
        if not countries:
            problems.append("row 1: no country columns (e.g. group,area,KZ,KG)")
        if len(countries) > MAX_COUNTRIES:
            problems.append(f"row 1: {len(countries)} countries; at most {MAX_COUNTRIES}")
        for index, code in enumerate(countries, start=3):
            if error := country_error(code):
                problems.append(f"row 1, column {index}: {error}")
            elif code in countries[: index - 3]:
                problems.append(f"row 1, column {index}: {code} again")
        if problems:
            raise AssessmentCsvError(self.source, problems)
        return countries

    def partial_row(self, number: int, countries: list[str], cells: list[str]) -> dict[str, bool]:
        flags = {}
        for country, cell in zip(countries, cells, strict=True):
            value = cell.strip().lower()
            if value not in YES | NO:
                self.problem(f"row {number} (partial), column {country}: {cell!r}; yes or no")
            flags[country] = value in YES
        return flags
