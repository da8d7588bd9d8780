"""The shipped 2019 scores reproduce every average the framework published (its README's
tables): each country's readiness and maturity, China's marked partial, and each key area's
over the countries; the shipped copy is the shared data set, byte for byte."""

from __future__ import annotations

from decimal import Decimal

import pytest

from centre.assessment.areas import AREAS, Group, find_area
from centre.assessment.averages import area_average, country_average, rounded
from centre.assessment.csv_import import read_scores_file
from centre.assessment.sheet import Assessment
from tests.centre.assessment.sheets import SHARED, SHIPPED

# The README's table of country averages: (readiness, maturity, partial).
PUBLISHED_COUNTRIES = {
    "AZ": ("3.9", "3.6", False),
    "KZ": ("3.3", "2.8", False),
    "KG": ("3.2", "2.8", False),
    "MN": ("2.9", "2.2", False),
    "CN": ("3.3", "3.5", True),
    "TJ": ("2.7", "2.2", False),
    "UZ": ("3.6", "2.9", False),
}
# The README's averages per key area, in its words.
PUBLISHED_AREAS = {
    "Legislation & Policy": "3.9", "Governance & Compliance": "3.9",
    "Information Technology": "3.9", "Track Record": "3.5", "Sponsorship": "3.5",
    "Existing Agreement in Place": "3.3", "Leadership": "3.4", "Management": "3.4",
    "Partnerships": "3.4", "Intelligence & Information Sharing Culture": "3.0",
    "Security, Privacy and Confidentiality": "2.9", "Value-Add Defined": "2.8",
    "Customs Risk Management": "2.8", "Value Analysis & Benchmarking": "2.8",
    "Business Process": "2.7", "Project Management": "2.6", "Process & Methodology": "2.5",
    "Ability to Monitor & Evaluate": "2.3", "Linkages": "2.2", "Program Management": "1.9",
}  # fmt: skip


@pytest.fixture(scope="module")
def shipped() -> Assessment:
    return read_scores_file(str(SHIPPED), SHIPPED.read_bytes())


def test_the_shipped_copy_is_the_published_data_set() -> None:
    if not SHARED.exists():
        pytest.skip("the shared data set is not on this machine")
    assert SHIPPED.read_bytes() == SHARED.read_bytes()


@pytest.mark.parametrize("country", PUBLISHED_COUNTRIES)
def test_every_published_country_average_is_reproduced(shipped: Assessment, country: str) -> None:
    readiness, maturity, partial = PUBLISHED_COUNTRIES[country]
    scores = shipped.of(country)
    assert country_average(scores, Group.READINESS) == Decimal(readiness)
    assert country_average(scores, Group.MATURITY) == Decimal(maturity)
    assert scores.partial is partial


@pytest.mark.parametrize("name", PUBLISHED_AREAS)
def test_every_published_area_average_is_reproduced(shipped: Assessment, name: str) -> None:
    area = find_area(name)
    assert area is not None, name
    assert area_average(shipped, area) == Decimal(PUBLISHED_AREAS[name])


def test_the_published_tables_name_all_seven_countries_and_twenty_areas(
    shipped: Assessment,
) -> None:
    assert shipped.codes == tuple(PUBLISHED_COUNTRIES)
    assert {find_area(name) for name in PUBLISHED_AREAS} == set(AREAS)


def test_averages_round_half_up_as_published_not_to_even() -> None:
    """A mean of exactly x.x5 rounds up (3.25 -> 3.3), where round() on floats gives 3.2, and
    1.15 (not exact in binary) gives 1.2, where round() gives 1.1."""
    assert rounded([Decimal("3.2"), Decimal("3.3")]) == Decimal("3.3")
    assert rounded([Decimal("1.1"), Decimal("1.2")]) == Decimal("1.2")
    assert rounded([]) is None
