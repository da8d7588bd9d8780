"""Averages as the framework publishes them: per country and group (readiness, maturity) over
its scored areas, and per area over the countries that scored it; N/A left out, exact decimal
sums, one decimal rounded half up (3.25 -> 3.3, as a spreadsheet rounds)."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import ROUND_HALF_UP, Decimal

from centre.assessment.areas import Area, Group
from centre.assessment.sheet import Assessment, CountryScores

ONE_DECIMAL = Decimal("0.1")


def rounded(values: Iterable[Decimal]) -> Decimal | None:
    """The mean of `values` to one decimal, half up; None when there are none."""
    taken = list(values)
    if not taken:
        return None
    return (sum(taken, Decimal(0)) / len(taken)).quantize(ONE_DECIMAL, ROUND_HALF_UP)


def country_average(scores: CountryScores, group: Group) -> Decimal | None:
    return rounded(score for _area, score in scores.scored(group))


def area_average(assessment: Assessment, area: Area) -> Decimal | None:
    return rounded(score for c in assessment.countries if (score := c.score(area)) is not None)
