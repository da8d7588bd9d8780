"""The figures of a group of trucks: counters that merge (a post's month is the sum of its days
and lanes), and what the pages show from them (shares, median and p90).

Quantiles: the median is the middle value (the mean of the two middle ones for an even count);
p90 is the nearest rank, the ceil(0.9 n)-th smallest, a time some truck really waited."""

from __future__ import annotations

import math
import statistics
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


def median(values: Sequence[float]) -> float | None:
    return statistics.median(values) if values else None


def p90(values: Sequence[float]) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(0.9 * len(ordered)) - 1)]


def share(part: int, whole: int) -> float | None:
    """`part` of `whole` in percent; None when there is no whole."""
    return 100.0 * part / whole if whole else None


@dataclass
class Tally:
    """What is counted of a group of trucks; `add` merges another group in."""

    trucks: int = 0
    covered: int = 0  # matched to a record the centre had before the truck arrived
    matched: int = 0  # the box found a record for it
    ambiguity_reported: int = 0  # arrivals that say whether their match was ambiguous
    ambiguous: int = 0
    changed: int = 0  # the officer decided on another record than the box's best match
    with_discrepancies: int = 0
    discrepancies: Counter[str] = field(default_factory=Counter)
    decided: int = 0
    decision_s: list[float] = field(default_factory=list)
    inspections: int = 0  # documentary checks and physical inspections decided
    inspection_results: int = 0  # checks whose result the box sent (inspection_result)
    inspection_hits: int = 0
    exit_confirmations: int = 0  # from the partner's exit post, for trucks that then arrived
    exit_lead_s: list[float] = field(default_factory=list)  # how long before the arrival

    def add(self, other: Tally) -> None:
        for name in (
            "trucks", "covered", "matched", "ambiguity_reported", "ambiguous", "changed",
            "with_discrepancies", "decided", "inspections", "inspection_results",
            "inspection_hits", "exit_confirmations",
        ):  # fmt: skip
            setattr(self, name, getattr(self, name) + getattr(other, name))
        self.discrepancies.update(other.discrepancies)
        self.decision_s.extend(other.decision_s)
        self.exit_lead_s.extend(other.exit_lead_s)


def merged(tallies: Iterable[Tally]) -> Tally:
    total = Tally()
    for tally in tallies:
        total.add(tally)
    return total


@dataclass(frozen=True)
class Figures:
    """What a page, a CSV row and the PDF show of a tally. None: no data."""

    trucks: int
    coverage_pct: float | None
    match_pct: float | None
    ambiguous_pct: float | None  # None until the boxes report ambiguity
    changed_pct: float | None  # of the matched and decided trucks
    discrepancy_pct: float | None  # trucks with at least one discrepancy
    discrepancies: dict[str, int]
    decided: int
    decision_median_s: float | None
    decision_p90_s: float | None
    inspections: int
    inspection_pct: float | None
    hit_pct: float | None  # None while no inspection result was received
    exit_confirmations: int
    exit_lead_median_h: float | None

    @classmethod
    def of(cls, tally: Tally) -> Figures:
        lead = median(tally.exit_lead_s)
        return cls(
            trucks=tally.trucks,
            coverage_pct=share(tally.covered, tally.trucks),
            match_pct=share(tally.matched, tally.trucks),
            ambiguous_pct=share(tally.ambiguous, tally.ambiguity_reported),
            changed_pct=share(tally.changed, tally.matched),
            discrepancy_pct=share(tally.with_discrepancies, tally.trucks),
            discrepancies=dict(sorted(tally.discrepancies.items())),
            decided=tally.decided,
            decision_median_s=median(tally.decision_s),
            decision_p90_s=p90(tally.decision_s),
            inspections=tally.inspections,
            inspection_pct=share(tally.inspections, tally.decided),
            hit_pct=share(tally.inspection_hits, tally.inspection_results),
            exit_confirmations=tally.exit_confirmations,
            exit_lead_median_h=None if lead is None else lead / 3600.0,
        )
