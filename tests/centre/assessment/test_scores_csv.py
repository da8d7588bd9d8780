"""Importing scores from CSV is strict: a bad score, an unknown area or country code, a
duplicate row or column, a missing area, a wrong group: each named by row and column, all of
them at once, and nothing taken."""

from __future__ import annotations

from decimal import Decimal

import pytest

from centre.assessment.csv_import import AssessmentCsvError, parse_scores
from tests.centre.assessment.sheets import sheet_csv


def problems_of(text: str) -> list[str]:
    with pytest.raises(AssessmentCsvError) as caught:
        parse_scores(text, "sheet.csv")
    return caught.value.problems


def test_a_good_sheet_reads_scores_as_exact_decimals_and_na_as_none() -> None:
    text = sheet_csv({"KZ": {"linkages": "2.3"}, "KG": {"sponsorship": "N/A"}})
    sheet = parse_scores(text)
    assert sheet.codes == ("KZ", "KG")
    assert sheet.of("KZ").scores["linkages"] == Decimal("2.3")
    assert sheet.of("KG").scores["sponsorship"] is None
    # Without a partial row, a country with an N/A area is partial (as China in 2019).
    assert (sheet.of("KZ").partial, sheet.of("KG").partial) == (False, True)


def test_a_partial_row_says_whose_assessment_was_partial() -> None:
    text = sheet_csv({"KZ": {}, "KG": {"sponsorship": "N/A"}}) + "assessment,partial,yes,no\n"
    sheet = parse_scores(text)
    assert (sheet.of("KZ").partial, sheet.of("KG").partial) == (True, False)


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("6", "row 2 (Sponsorship), column KG: '6' is out of range: a score is 1 to 5, or N/A"),
        ("0.5", "row 2 (Sponsorship), column KG: '0.5' is out of range"),
        ("three", "row 2 (Sponsorship), column KG: 'three' is not a score"),
        ("", "row 2 (Sponsorship), column KG: '' is not a score"),
        ("3.333", "row 2 (Sponsorship), column KG: '3.333' has more than two decimals"),
        ("NaN", "row 2 (Sponsorship), column KG: 'NaN' is out of range"),
    ],
)
def test_a_bad_score_is_named_by_row_and_column(cell: str, expected: str) -> None:
    [problem] = problems_of(sheet_csv({"KZ": {}, "KG": {"sponsorship": cell}}))
    assert problem.startswith(expected), problem


def test_an_unknown_area_is_named() -> None:
    text = sheet_csv({"KZ": {}}) + "readiness,Blockchain Readiness,3.0\n"
    assert problems_of(text) == [
        "row 22 (Blockchain Readiness), column area: 'Blockchain Readiness' is not one of the "
        "twenty key areas"
    ]


def test_an_area_under_the_wrong_group_is_named() -> None:
    text = sheet_csv({"KZ": {}}).replace("maturity,Leadership,", "readiness,Leadership,")
    assert problems_of(text) == [
        "row 12 (Leadership), column group: 'readiness'; Leadership is a maturity area"
    ]


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("XX", "row 1, column 4: 'XX' is not an ISO 3166-1 alpha-2 country code (e.g. KZ, KG, CN)"),
        ("kz", "row 1, column 4: 'kz' is not an ISO 3166-1 alpha-2 country code (e.g. KZ, KG, CN)"),
        ("KZ", "row 1, column 4: KZ again"),
    ],
)
def test_an_unknown_or_repeated_country_code_is_named(code: str, expected: str) -> None:
    text = sheet_csv({"KZ": {}, "KG": {}}).replace("group,area,KZ,KG", f"group,area,KZ,{code}")
    assert problems_of(text) == [expected]


def test_a_duplicate_row_is_named_with_the_first() -> None:
    text = sheet_csv({"KZ": {}}) + "maturity,Linkages,2.0\n"
    assert problems_of(text) == ["row 22 (Linkages): Linkages again (first at row 14)"]


def test_a_missing_area_and_a_short_row_are_named() -> None:
    lines = sheet_csv({"KZ": {}, "KG": {}}).splitlines()
    lines = [line for line in lines if not line.startswith("maturity,Linkages")]
    lines[1] = "readiness,Sponsorship,3.0"
    assert problems_of("\n".join(lines)) == [
        "row 2: 3 cells; the header has 4",
        "no row for readiness area 'Sponsorship': add it (N/A where not scored)",
        "no row for maturity area 'Linkages': add it (N/A where not scored)",
    ]


def test_every_problem_is_reported_at_once() -> None:
    text = sheet_csv({"KZ": {"linkages": "9", "leadership": "x"}, "KG": {"sponsorship": "0"}})
    assert len(problems_of(text)) == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", "empty: the header is group,area,<countries>"),
        ("country,KZ\n", "row 1: the header starts group,area, then one column per country"),
        ("group,area\n", "row 1: no country columns (e.g. group,area,KZ,KG)"),
    ],
)
def test_a_sheet_without_its_header_is_refused(text: str, expected: str) -> None:
    assert problems_of(text) == [expected]


def test_area_names_are_found_by_their_key_or_another_spelling() -> None:
    text = sheet_csv({"KZ": {}}).replace("Legislation & Policy", "legislation and policy")
    text = text.replace("Track Record", "track_record")
    assert parse_scores(text).of("KZ").scores["legislation_policy"] == Decimal("3.0")
