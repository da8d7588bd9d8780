"""Areas at risk and each pair's candidacy, on hand-made score sets: what one country misses
decides the pair, and the reasons name the country, the area, its score and the minimum. The
thresholds come from a TOML file whose mistakes are named, and the shipped defaults file is
the model's defaults."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from centre.assessment.areas import AREA_BY_KEY
from centre.assessment.classify import Miss, PartialCap, classify_pairs, country_level
from centre.assessment.csv_import import parse_scores
from centre.assessment.report import build_report
from centre.assessment.thresholds import (
    DEFAULTS_FILE,
    Level,
    Thresholds,
    load_thresholds,
    parse_thresholds,
)
from edge.config import ConfigError
from tests.centre.assessment.sheets import sheet_csv

DEFAULTS = Thresholds()


def test_a_pair_where_one_country_misses_a_cie_minimum_is_an_sie_candidate_with_that_reason() -> (
    None
):
    sheet = parse_scores(
        sheet_csv({"KZ": {"customs_risk_management": "3.1"}, "KG": {}}, default="4.0")
    )
    [pair] = classify_pairs(sheet, DEFAULTS)
    assert (pair.a, pair.b, pair.candidate) == ("KZ", "KG", Level.SIE)
    assert pair.reasons == (
        Miss(
            "KZ", AREA_BY_KEY["customs_risk_management"], Decimal("3.1"), Level.CIE, Decimal("3.5")
        ),
    )
    assert [r.text() for r in pair.reasons] == [
        "KZ: Customs Risk Management 3.1 is below the CIE minimum 3.5"
    ]


def test_both_countries_below_sie_in_an_area_is_not_yet_with_both_reasons() -> None:
    sheet = parse_scores(
        sheet_csv({"KZ": {"linkages": "1.3"}, "KG": {"linkages": "1.4", "leadership": "2.0"}})
    )
    [pair] = classify_pairs(sheet, DEFAULTS)
    assert pair.candidate is Level.NOT_YET
    assert [r.text() for r in pair.reasons] == [
        "KZ: Linkages 1.3 is below the SIE minimum 1.5",
        "KG: Linkages 1.4 is below the SIE minimum 1.5",
    ]


def test_one_country_at_risk_holds_the_pair_back_and_only_its_areas_are_the_reasons() -> None:
    sheet = parse_scores(
        sheet_csv({"KZ": {}, "KG": {"program_management": "1.2", "linkages": "2.0"}})
    )
    [pair] = classify_pairs(sheet, DEFAULTS)
    assert pair.candidate is Level.NOT_YET
    assert [r.text() for r in pair.reasons] == [
        "KG: Program Management 1.2 is below the SIE minimum 1.5"
    ]


def test_a_pair_meeting_every_cie_minimum_is_a_cie_candidate_without_reasons() -> None:
    sheet = parse_scores(
        sheet_csv({"AZ": {"information_technology": "3.5"}, "KZ": {}}, default="3.6")
    )
    [pair] = classify_pairs(sheet, DEFAULTS)
    assert (pair.candidate, pair.reasons) == (Level.CIE, ())


def test_a_score_equal_to_the_minimum_meets_it() -> None:
    sheet = parse_scores(sheet_csv({"KZ": {"linkages": "1.5"}, "KG": {}}, default="3.5"))
    assert country_level(sheet.of("KZ"), DEFAULTS).level is Level.SIE
    assert classify_pairs(sheet, DEFAULTS)[0].candidate is Level.SIE


def test_na_is_left_out_but_a_partial_assessment_gives_sie_at_most() -> None:
    text = sheet_csv({"CN": {"leadership": "N/A", "linkages": "N/A"}, "AZ": {}}, default="4.0")
    [pair] = classify_pairs(parse_scores(text), DEFAULTS)
    assert pair.candidate is Level.SIE
    assert pair.reasons == (PartialCap("CN", Level.SIE),)
    # Declared complete, the same N/A areas are only not applicable: CIE.
    complete = parse_scores(text + "assessment,partial,no,no\n")
    assert classify_pairs(complete, DEFAULTS)[0].candidate is Level.CIE
    # A thresholds file may let partial assessments through, or hold them back altogether.
    let_through = parse_thresholds('partial_at_most = "cie"')
    assert classify_pairs(parse_scores(text), let_through)[0].candidate is Level.CIE
    held = parse_thresholds('partial_at_most = "not_yet"')
    assert [r.text() for r in classify_pairs(parse_scores(text), held)[0].reasons] == [
        "CN: partial assessment: no candidate until it is complete"
    ]


def test_pairs_come_in_the_sheets_column_order() -> None:
    sheet = parse_scores(sheet_csv({"KZ": {}, "KG": {}, "UZ": {}}))
    assert [(p.a, p.b) for p in classify_pairs(sheet, DEFAULTS)] == [
        ("KZ", "KG"),
        ("KZ", "UZ"),
        ("KG", "UZ"),
    ]


def test_a_thresholds_file_changes_the_minimums_per_area() -> None:
    sheet = parse_scores(sheet_csv({"KZ": {"linkages": "2.3"}, "KG": {}}))
    assert classify_pairs(sheet, DEFAULTS)[0].candidate is Level.SIE
    lenient = parse_thresholds("[areas.linkages]\ncie = 2.0\n")
    assert classify_pairs(sheet, lenient)[0].candidate is Level.CIE
    strict = parse_thresholds("sie = 2.5\n")
    report = build_report(sheet, strict)
    assert [m.area.key for m in report.countries[0].at_risk] == ["linkages"]
    assert report.pairs[0].candidate is Level.NOT_YET


def test_the_shipped_defaults_file_is_the_models_defaults() -> None:
    assert load_thresholds(DEFAULTS_FILE) == Thresholds()
    assert DEFAULTS.minimum(AREA_BY_KEY["security_privacy"], Level.CIE) == Decimal("3.5")
    assert DEFAULTS.minimum(AREA_BY_KEY["linkages"], Level.SIE) == Decimal("1.5")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("[areas.blockchain]\ncie = 3.0\n", "areas: unknown area key blockchain"),
        ("sie = 0.5\n", "sie: Input should be greater than or equal to 1"),
        ("cie = 2.0\nsie = 2.2\n", "the SIE minimum is above the CIE minimum"),
        (
            "[areas.linkages]\nsie = 3.0\n",
            "areas.linkages: the SIE minimum is above the CIE minimum",
        ),
        ("siee = 2\n", "siee: unknown key in the top level"),
        ('partial_at_most = "maybe"\n', "partial_at_most: Input should be"),
    ],
)
def test_a_bad_thresholds_file_names_the_key(text: str, expected: str, tmp_path: Path) -> None:
    path = tmp_path / "thresholds.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as caught:
        load_thresholds(path)
    assert expected in str(caught.value)
