"""The health charts drawn on the server: points scaled into the view box from the lowest
minimum to the highest maximum, a flat series given a band, a long one thinned to a bound."""

from __future__ import annotations

import datetime as dt

from centre.console.fleet_charts import HEIGHT, MAX_POINTS, PAD_X, PAD_Y, WIDTH, line_chart

START = dt.datetime(2026, 12, 7, 12, 0, tzinfo=dt.UTC)


def _points(text: str) -> list[tuple[float, float]]:
    return [(float(x), float(y)) for x, y in (p.split(",") for p in text.split())]


def test_a_series_spans_the_view_box_from_its_lowest_minimum_to_its_highest_maximum() -> None:
    buckets = [
        (START + dt.timedelta(minutes=5 * i), mean, mean - 1, mean + 1)
        for i, mean in enumerate([10.0, 20.0, 15.0])
    ]
    chart = line_chart("disk_used_pct", "Disk used (%)", buckets)
    assert (chart.low, chart.high, chart.latest, chart.buckets) == (9.0, 21.0, 15.0, 3)
    assert (chart.first, chart.last) == (START, START + dt.timedelta(minutes=10))
    line = _points(chart.line)
    assert [x for x, _ in line] == [PAD_X, WIDTH / 2, WIDTH - PAD_X]
    # Higher values are drawn higher (smaller y); all inside the padding.
    assert line[1][1] < line[2][1] < line[0][1]
    assert all(PAD_Y <= y <= HEIGHT - PAD_Y for _, y in _points(chart.band))
    assert len(_points(chart.band)) == 2 * len(buckets)


def test_a_flat_series_an_empty_one_and_a_long_one() -> None:
    flat = line_chart(
        "backlog",
        "Backlog",
        [(START, 0.0, 0.0, 0.0), (START + dt.timedelta(hours=1), 0.0, 0.0, 0.0)],
    )
    assert (flat.low, flat.high) == (-0.5, 0.5)
    assert {y for _, y in _points(flat.line)} == {HEIGHT / 2}
    empty = line_chart("backlog", "Backlog", [])
    assert (empty.line, empty.band, empty.buckets, empty.latest) == ("", "", 0, None)
    long = [
        (START + dt.timedelta(minutes=5 * i), float(i), float(i), float(i)) for i in range(2016)
    ]
    chart = line_chart("backlog", "Backlog", long)
    drawn = _points(chart.line)
    assert len(drawn) <= MAX_POINTS + 1
    assert chart.buckets == 2016
    assert chart.latest == 2015.0  # the newest bucket is always drawn
    assert drawn[-1][0] == WIDTH - PAD_X
