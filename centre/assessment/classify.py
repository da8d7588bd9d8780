"""Areas at risk, what each country is ready for, and each pair's candidacy with its reasons.

An area is at risk below its SIE minimum. A country is ready for CIE when every scored area
reaches its CIE minimum, for SIE when every one reaches its SIE minimum (N/A left out; a
partial assessment capped by `partial_at_most`), otherwise not yet. A pair is a candidate for
the lower of its two countries' levels, and its reasons are what keeps it from the next one:
each area of either country below the missed pilot's minimum."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from itertools import combinations

from centre.assessment.areas import Area
from centre.assessment.sheet import Assessment, CountryScores
from centre.assessment.thresholds import Level, Thresholds

LEVEL_NAMES = {Level.NOT_YET: "not yet", Level.SIE: "SIE", Level.CIE: "CIE"}


@dataclass(frozen=True)
class Miss:
    """`country`'s `area` scores below the minimum of `level`'s pilot."""

    country: str
    area: Area
    score: Decimal
    level: Level
    minimum: Decimal

    def text(self) -> str:
        return (
            f"{self.country}: {self.area.name} {self.score} is below the "
            f"{LEVEL_NAMES[self.level]} minimum {self.minimum}"
        )


@dataclass(frozen=True)
class PartialCap:
    """`country`'s assessment was partial: it is a candidate for `cap` at most."""

    country: str
    cap: Level

    def text(self) -> str:
        if self.cap is Level.NOT_YET:
            return f"{self.country}: partial assessment: no candidate until it is complete"
        cap = LEVEL_NAMES[self.cap]
        return f"{self.country}: partial assessment: a candidate for {cap} at most"


@dataclass(frozen=True)
class NoScores:
    country: str

    def text(self) -> str:
        return f"{self.country}: no area scored"


Reason = Miss | PartialCap | NoScores


def area_level(area: Area, score: Decimal, thresholds: Thresholds) -> Level:
    if score >= thresholds.minimum(area, Level.CIE):
        return Level.CIE
    if score >= thresholds.minimum(area, Level.SIE):
        return Level.SIE
    return Level.NOT_YET


def misses(scores: CountryScores, level: Level, thresholds: Thresholds) -> Iterator[Miss]:
    for area, score in scores.scored():
        minimum = thresholds.minimum(area, level)
        if score < minimum:
            yield Miss(scores.country, area, score, level, minimum)


def at_risk(scores: CountryScores, thresholds: Thresholds) -> list[Miss]:
    """The areas below their SIE minimum."""
    return list(misses(scores, Level.SIE, thresholds))


@dataclass(frozen=True)
class CountryLevel:
    country: str
    level: Level
    blockers: tuple[Reason, ...]  # what keeps it from the next level (none at CIE)


def country_level(scores: CountryScores, thresholds: Thresholds) -> CountryLevel:
    country = scores.country
    if next(scores.scored(), None) is None:
        return CountryLevel(country, Level.NOT_YET, (NoScores(country),))
    cap = thresholds.partial_cap if scores.partial else Level.CIE
    below_sie = at_risk(scores, thresholds)
    if below_sie or cap is Level.NOT_YET:
        capped = (PartialCap(country, cap),) if cap is Level.NOT_YET else ()
        return CountryLevel(country, Level.NOT_YET, (*below_sie, *capped))
    below_cie = list(misses(scores, Level.CIE, thresholds))
    if below_cie or cap is Level.SIE:
        capped = (PartialCap(country, cap),) if cap is Level.SIE else ()
        return CountryLevel(country, Level.SIE, (*below_cie, *capped))
    return CountryLevel(country, Level.CIE, ())


@dataclass(frozen=True)
class PairClass:
    a: str
    b: str
    candidate: Level
    reasons: tuple[Reason, ...]


def classify_pair(first: CountryLevel, second: CountryLevel) -> PairClass:
    candidate = min(first.level, second.level, key=lambda level: level.rank)
    reasons = tuple(
        reason for side in (first, second) if side.level is candidate for reason in side.blockers
    )
    return PairClass(first.country, second.country, candidate, reasons)


def classify_pairs(assessment: Assessment, thresholds: Thresholds) -> list[PairClass]:
    """Every pair of the assessment's countries, in their order (KZ before KG when KZ's column
    comes first)."""
    levels = [country_level(c, thresholds) for c in assessment.countries]
    return [classify_pair(a, b) for a, b in combinations(levels, 2)]
