"""Health history as charts drawn on the server: inline SVG (a polyline for the bucket means
over a band from their minima to their maxima), so the page loads no script and nothing from
elsewhere. Sized in a fixed view box; the page's CSS scales it."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 480.0, 120.0
PAD_X, PAD_Y = 4.0, 6.0
MAX_POINTS = 600  # a week of 5-minute buckets is 2016: the chart keeps every n-th beyond this

Bucket = tuple[dt.datetime, float, float, float]  # start, mean, min, max


@dataclass(frozen=True)
class Chart:
    metric: str
    label: str  # translated by the page
    line: str  # the polyline's points "x,y x,y ..."; empty when there is nothing to draw
    band: str  # the polygon's points (max forwards, min backwards)
    low: float  # the value at the bottom edge
    high: float  # the value at the top edge
    first: dt.datetime | None
    last: dt.datetime | None
    latest: float | None  # the newest bucket's mean
    buckets: int


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _thinned(buckets: Sequence[Bucket]) -> list[Bucket]:
    if len(buckets) <= MAX_POINTS:
        return list(buckets)
    step = -(-len(buckets) // MAX_POINTS)
    kept = list(buckets[::step])
    if kept[-1] is not buckets[-1]:
        kept.append(buckets[-1])
    return kept


def line_chart(metric: str, label: str, buckets: Sequence[Bucket]) -> Chart:
    """The chart of `buckets` (oldest first): x by time, y from the lowest minimum to the
    highest maximum (a flat series gets a band of one unit around it)."""
    points = sorted(_thinned(buckets), key=lambda b: b[0])
    if not points:
        return Chart(metric, label, "", "", 0.0, 0.0, None, None, None, 0)
    low = min(b[2] for b in points)
    high = max(b[3] for b in points)
    if high - low < 1e-9:
        low, high = low - 0.5, high + 0.5
    start, end = points[0][0], points[-1][0]
    span = (end - start).total_seconds() or 1.0

    def x(moment: dt.datetime) -> float:
        if len(points) == 1:
            return WIDTH / 2
        return PAD_X + (moment - start).total_seconds() / span * (WIDTH - 2 * PAD_X)

    def y(value: float) -> float:
        return HEIGHT - PAD_Y - (value - low) / (high - low) * (HEIGHT - 2 * PAD_Y)

    line = " ".join(f"{_fmt(x(b[0]))},{_fmt(y(b[1]))}" for b in points)
    top = [f"{_fmt(x(b[0]))},{_fmt(y(b[3]))}" for b in points]
    bottom = [f"{_fmt(x(b[0]))},{_fmt(y(b[2]))}" for b in reversed(points)]
    return Chart(
        metric, label, line, " ".join(top + bottom), low, high, start, end, points[-1][1],
        len(buckets),
    )  # fmt: skip
