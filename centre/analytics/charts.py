"""Charts of the analytics pages, drawn on the server as the fleet's are
(`centre.console.fleet_charts`): inline SVG from numbers, no script, nothing from elsewhere.
A bar chart of trucks per day (stacked by lane) and line charts of a figure per day."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

from centre.analytics.collect import LANES, Analytics
from centre.analytics.figures import Figures

WIDTH, HEIGHT = 480.0, 140.0
PAD = 6.0


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    lane: str
    value: int
    day: str


@dataclass(frozen=True)
class BarChart:
    bars: tuple[Bar, ...]
    high: int  # the value at the top edge
    first: str
    last: str


@dataclass(frozen=True)
class Series:
    name: str  # a CSS class and a legend key: median, p90, sie, cie
    points: str  # "x,y x,y ..." for a polyline; empty: nothing to draw


@dataclass(frozen=True)
class LineChart:
    series: tuple[Series, ...]
    high: float
    first: str
    last: str


def trucks_per_day(analytics: Analytics, posts: Sequence[str] | None = None) -> BarChart:
    days = analytics.period.days()
    counts = {
        (day, lane): analytics.tally(posts, day, lane).trucks for day in days for lane in LANES
    }
    high = max((sum(counts[(d, la)] for la in LANES) for d in days), default=0)
    slot = (WIDTH - 2 * PAD) / max(1, len(days))
    scale = (HEIGHT - 2 * PAD) / high if high else 0.0
    bars: list[Bar] = []
    for index, day in enumerate(days):
        base = HEIGHT - PAD
        for lane in LANES:
            value = counts[(day, lane)]
            if not value:
                continue
            height = value * scale
            base -= height
            x = PAD + index * slot + slot * 0.1
            bars.append(Bar(round(x, 1), round(base, 1), round(slot * 0.8, 1), round(height, 1),
                            lane, value, day.isoformat()))  # fmt: skip
    return BarChart(tuple(bars), high, days[0].isoformat(), days[-1].isoformat())


def line_chart(
    series: dict[str, list[tuple[dt.date, float | None]]], period_days: list[dt.date]
) -> LineChart:
    values = [v for points in series.values() for _d, v in points if v is not None]
    high = max(values, default=0.0) or 1.0
    slot = (WIDTH - 2 * PAD) / max(1, len(period_days) - 1)
    index = {day: n for n, day in enumerate(period_days)}

    def xy(day: dt.date, value: float) -> str:
        x = PAD + index[day] * slot if len(period_days) > 1 else WIDTH / 2
        y = HEIGHT - PAD - value / high * (HEIGHT - 2 * PAD)
        return f"{x:.1f},{y:.1f}"

    drawn = tuple(
        Series(name, " ".join(xy(day, v) for day, v in points if v is not None))
        for name, points in series.items()
    )
    return LineChart(drawn, high, period_days[0].isoformat(), period_days[-1].isoformat())


def decision_times(analytics: Analytics, posts: Sequence[str] | None = None) -> LineChart:
    days = analytics.period.days()
    figures = [(day, Figures.of(analytics.tally(posts, day))) for day in days]
    return line_chart(
        {
            "median": [(d, f.decision_median_s) for d, f in figures],
            "p90": [(d, f.decision_p90_s) for d, f in figures],
        },
        days,
    )


def modes_coverage(analytics: Analytics) -> LineChart:
    """Pre-arrival coverage per day, SIE posts against CIE posts."""
    days = analytics.period.days()
    series: dict[str, list[tuple[dt.date, float | None]]] = {}
    for mode in ("sie", "cie"):
        posts = analytics.posts_of_mode(mode)
        series[mode] = [
            (d, Figures.of(analytics.tally(posts, d)).coverage_pct if posts else None) for d in days
        ]
    return line_chart(series, days)
