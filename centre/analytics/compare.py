"""SIE against CIE: each figure per day for the posts of each mode, the difference of the means
(CIE minus SIE) and its spread as a 95 % percentile bootstrap interval.

Why days and a bootstrap: trucks of one day share a queue, a shift and the link's state, so
they are not independent draws; days are. Resampling each mode's days (with replacement, each
mode on its own) keeps that structure and needs no assumption of normality, which medians and
p90s of waiting times do not meet. The random generator is seeded from the period, so the page,
the CSV file and the PDF show the same interval."""

from __future__ import annotations

import random
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from centre.analytics.collect import Analytics
from centre.analytics.figures import Figures
from centre.console.i18n import N_

RESAMPLES = 2000
MODES = ("sie", "cie")

# The figures compared: an id (CSV), a label (translated when shown), and how to read it.
Metric = tuple[str, str, Callable[[Figures], float | None]]
METRICS: tuple[Metric, ...] = (
    ("trucks", N_("Trucks a day"), lambda f: float(f.trucks)),
    ("coverage_pct", N_("Pre-arrival coverage %"), lambda f: f.coverage_pct),
    ("match_pct", N_("Matched %"), lambda f: f.match_pct),
    ("discrepancy_pct", N_("With discrepancies %"), lambda f: f.discrepancy_pct),
    ("decision_median_s", N_("Arrival to decision, median (s)"), lambda f: f.decision_median_s),
    ("decision_p90_s", N_("Arrival to decision, p90 (s)"), lambda f: f.decision_p90_s),
    ("inspection_pct", N_("Inspected %"), lambda f: f.inspection_pct),
    ("exit_lead_median_h", N_("Exit confirmation before arrival, median (h)"),
     lambda f: f.exit_lead_median_h),
)  # fmt: skip


@dataclass(frozen=True)
class Comparison:
    metric: str
    label: str
    sie: float | None  # the mean of the mode's daily values
    cie: float | None
    sie_days: int
    cie_days: int
    difference: float | None  # cie - sie
    low: float | None  # the bootstrap interval of the difference
    high: float | None


def daily_values(
    analytics: Analytics, mode: str, read: Callable[[Figures], float | None]
) -> list[float]:
    posts = analytics.posts_of_mode(mode)
    values: list[float] = []
    if not posts:
        return values
    for day in analytics.period.days():
        tally = analytics.tally(posts, day)
        if tally.trucks == 0:
            continue
        value = read(Figures.of(tally))
        if value is not None:
            values.append(value)
    return values


def bootstrap_interval(
    sie: Sequence[float], cie: Sequence[float], rng: random.Random, resamples: int = RESAMPLES
) -> tuple[float, float] | None:
    """The 2.5th and 97.5th percentiles of mean(cie*) - mean(sie*) over resampled days."""
    if len(sie) < 2 or len(cie) < 2:
        return None
    diffs = sorted(
        statistics.fmean(rng.choices(cie, k=len(cie)))
        - statistics.fmean(rng.choices(sie, k=len(sie)))
        for _ in range(resamples)
    )
    return diffs[int(0.025 * (resamples - 1))], diffs[int(0.975 * (resamples - 1))]


def compare(analytics: Analytics) -> list[Comparison]:
    out: list[Comparison] = []
    for metric, label, read in METRICS:
        rng = random.Random(f"{analytics.period.start}/{analytics.period.end}/{metric}")
        sie = daily_values(analytics, "sie", read)
        cie = daily_values(analytics, "cie", read)
        sie_mean = statistics.fmean(sie) if sie else None
        cie_mean = statistics.fmean(cie) if cie else None
        difference = None if sie_mean is None or cie_mean is None else cie_mean - sie_mean
        interval = bootstrap_interval(sie, cie, rng)
        out.append(Comparison(
            metric, label, sie_mean, cie_mean, len(sie), len(cie), difference,
            interval[0] if interval else None, interval[1] if interval else None,
        ))  # fmt: skip
    return out
