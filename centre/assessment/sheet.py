"""One assessment: per country, a score from 1 to 5 (or N/A) in each of the twenty areas, and
whether the country's assessment was partial. Scores are exact decimals (the published ones
have one decimal; at most two are taken), never floats, so averages round as published."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from centre.assessment.areas import AREAS, Area, Group
from edge.codes import COUNTRIES_ALPHA2

MIN_SCORE, MAX_SCORE = Decimal(1), Decimal(5)
NOT_APPLICABLE = "N/A"
MAX_COUNTRIES = 60


class ScoreError(ValueError):
    """A score that is not one, with what a score is."""


def parse_score(text: str) -> Decimal | None:
    """A score from `text`: 1 to 5 with at most two decimals, or None for N/A."""
    value = text.strip()
    if value.upper() == NOT_APPLICABLE:
        return None
    try:
        score = Decimal(value)
    except InvalidOperation:
        raise ScoreError(f"{value!r} is not a score: write 1 to 5 (e.g. 3.4) or N/A") from None
    if not score.is_finite() or not MIN_SCORE <= score <= MAX_SCORE:
        raise ScoreError(f"{value!r} is out of range: a score is 1 to 5, or N/A")
    if score != score.quantize(Decimal("0.01")):
        raise ScoreError(f"{value!r} has more than two decimals")
    return score


def country_error(code: str) -> str | None:
    """Why `code` is not a country code (ISO 3166-1 alpha-2, e.g. KZ), or None."""
    if code not in COUNTRIES_ALPHA2:
        return f"{code!r} is not an ISO 3166-1 alpha-2 country code (e.g. KZ, KG, CN)"
    return None


@dataclass(frozen=True)
class CountryScores:
    country: str
    scores: Mapping[str, Decimal | None]  # area key -> score, None: N/A; every area present
    partial: bool

    def score(self, area: Area) -> Decimal | None:
        return self.scores.get(area.key)

    def scored(self, group: Group | None = None) -> Iterator[tuple[Area, Decimal]]:
        """The areas with a score (N/A left out), in the framework's order."""
        for area in AREAS:
            score = self.scores.get(area.key)
            if score is not None and (group is None or area.group is group):
                yield area, score


@dataclass(frozen=True)
class Assessment:
    countries: tuple[CountryScores, ...]  # in the order they came (the CSV's columns)

    @property
    def codes(self) -> tuple[str, ...]:
        return tuple(c.country for c in self.countries)

    def of(self, country: str) -> CountryScores:
        for scores in self.countries:
            if scores.country == country:
                return scores
        raise KeyError(country)
