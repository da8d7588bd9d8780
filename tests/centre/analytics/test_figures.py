"""The figures of a planned month, computed from what the centre stored, against the same
figures worked out from the plan alone (numpy's median and its inverted-CDF percentile for
the nearest-rank p90)."""

from __future__ import annotations

import datetime as dt
from collections import Counter

import numpy as np
import pytest

from centre.analytics.collect import Period, compute
from centre.analytics.compare import bootstrap_interval, compare, daily_values
from centre.analytics.figures import Figures
from centre.analytics.tables import posts_table
from tests.centre.analytics.scenario import LINKS, Scenario, Truck
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY


def expected(trucks: list[Truck]) -> dict[str, object]:
    decided = [t for t in trucks if t.decision_after_s is not None]
    times = [float(t.decision_after_s) for t in decided]  # type: ignore[arg-type]
    matched = [t for t in trucks if t.ref is not None]
    leads = [(t.opened_at - t.exit_at).total_seconds() for t in trucks if t.exit_at]
    return {
        "trucks": len(trucks),
        "coverage_pct": 100.0 * sum(t.covered for t in trucks) / len(trucks),
        "match_pct": 100.0 * len(matched) / len(trucks),
        "discrepancy_pct": 100.0 * sum(bool(t.codes) for t in trucks) / len(trucks),
        "discrepancies": dict(Counter(c for t in trucks for c in t.codes)),
        "decided": len(decided),
        "decision_median_s": float(np.median(times)) if times else None,
        "decision_p90_s": float(np.percentile(times, 90, method="inverted_cdf")) if times else None,
        "inspections": sum(t.kind != "release" for t in decided),
        "exit_confirmations": sum(t.exit_at is not None for t in trucks),
        "exit_lead_median_h": float(np.median(leads)) / 3600 if leads else None,
        "changed": sum(t.decided_ref is not None for t in decided),
    }


def check(figures: Figures, trucks: list[Truck]) -> None:
    want = expected(trucks)
    assert figures.trucks == want["trucks"]
    assert figures.coverage_pct == pytest.approx(want["coverage_pct"])
    assert figures.match_pct == pytest.approx(want["match_pct"])
    assert figures.discrepancy_pct == pytest.approx(want["discrepancy_pct"])
    assert figures.discrepancies == want["discrepancies"]
    assert figures.decided == want["decided"]
    assert figures.decision_median_s == pytest.approx(want["decision_median_s"])
    assert figures.decision_p90_s == pytest.approx(want["decision_p90_s"])
    assert figures.inspections == want["inspections"]
    assert figures.exit_confirmations == want["exit_confirmations"]
    if want["exit_lead_median_h"] is None:
        assert figures.exit_lead_median_h is None
    else:
        assert figures.exit_lead_median_h == pytest.approx(want["exit_lead_median_h"])


def test_each_posts_month_matches_the_figures_worked_out_from_the_plan(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    assert analytics.posts() == [KORGAS, NURZHOLY]
    for post in (KORGAS, NURZHOLY):
        trucks = [t for t in scenario.trucks if t.post == post]
        check(Figures.of(analytics.tally([post])), trucks)
    # Some of Nurzholy's trucks came before CN's records were approved: not covered, yet matched.
    nurzholy = Figures.of(analytics.tally([NURZHOLY]))
    assert nurzholy.coverage_pct is not None
    assert nurzholy.match_pct is not None
    assert 0 < nurzholy.coverage_pct < nurzholy.match_pct == 100.0
    # One decision named another record than the box's best match.
    assert analytics.tally([NURZHOLY]).changed == 1


def test_each_day_and_lane_is_its_own_group(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    groups: dict[tuple[str, dt.date, str], list[Truck]] = {}
    for truck in scenario.trucks:
        groups.setdefault((truck.post, truck.opened_at.date(), truck.lane), []).append(truck)
    assert set(analytics.cells) == set(groups)
    for (post, day, lane), trucks in groups.items():
        check(Figures.of(analytics.tally([post], day, lane)), trucks)


def test_the_posts_links_come_from_their_partners_records_and_exit_confirmations(
    scenario: Scenario,
) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    assert analytics.post_links == {KORGAS: "KG", NURZHOLY: "CN"}
    assert analytics.mode_of_post(KORGAS) == "cie"
    assert analytics.mode_of_post(NURZHOLY) == "sie"
    rows = {row[0]: row for row in posts_table(analytics).rows}
    assert rows[KORGAS][1:3] == ("KG", "cie")


def test_what_nothing_reports_yet_is_no_data_not_zero(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    figures = Figures.of(analytics.tally())
    assert figures.inspections > 0
    assert (
        figures.hit_pct is None
    )  # the scenario reports no check results (see test_inspection_hits)
    assert figures.ambiguous_pct is None  # no box reports ambiguity yet


def test_sie_against_cie_compares_per_day_means_with_a_bootstrap_interval(
    scenario: Scenario,
) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    rows = {c.metric: c for c in compare(analytics)}
    for metric, mode_post in (("trucks", None), ("decision_median_s", None)):
        del mode_post
        row = rows[metric]
        assert row.sie_days == row.cie_days == 6
    per_day: dict[str, list[float]] = {"sie": [], "cie": []}
    for mode, post in (("sie", NURZHOLY), ("cie", KORGAS)):
        for day in sorted({t.opened_at.date() for t in scenario.trucks if t.post == post}):
            times = [
                float(t.decision_after_s)
                for t in scenario.trucks
                if t.post == post and t.opened_at.date() == day and t.decision_after_s
            ]
            per_day[mode].append(float(np.median(times)))  # fmt: skip
    row = rows["decision_median_s"]
    assert row.sie == pytest.approx(np.mean(per_day["sie"]))
    assert row.cie == pytest.approx(np.mean(per_day["cie"]))
    assert row.difference == pytest.approx(np.mean(per_day["cie"]) - np.mean(per_day["sie"]))
    assert row.low is not None
    assert row.high is not None
    assert row.difference is not None
    assert row.low <= row.difference <= row.high
    # CIE's decisions are quicker in this plan, clearly: the interval lies below 0.
    assert row.high < 0
    assert rows["trucks"].difference == pytest.approx(4 - 3)
    assert daily_values(analytics, "sie", lambda f: float(f.trucks)) == [3.0] * 6


def test_the_bootstrap_interval_is_the_same_every_time_and_needs_two_days_a_side() -> None:
    import random

    sie, cie = [10.0, 12.0, 11.0, 15.0], [8.0, 7.0, 9.0, 6.5]
    first = bootstrap_interval(sie, cie, random.Random("x"))
    assert first == bootstrap_interval(sie, cie, random.Random("x"))
    assert first is not None
    assert first[0] < 7.625 - 12.0 < first[1] < 0
    assert bootstrap_interval([1.0], cie, random.Random("x")) is None
