"""The readings queue's overflow: counted in full, logged without flooding the log."""

from __future__ import annotations

import datetime as dt
import logging

import pytest

from edge.readings import SealRead
from edge.service.upkeep import ReadingsQueue

AT = dt.datetime(2032, 6, 1, 12, 0, tzinfo=dt.UTC)


def _overflow_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.__dict__ for r in caplog.records if r.getMessage() == "reading.overflow"]


def test_a_flood_logs_its_first_refusal_then_a_summary_a_minute(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [1000.0]
    readings = ReadingsQueue(limit=2, clock=lambda: now[0])
    seal = SealRead("seal-1", AT, "SEAL1", electronic=False)
    assert readings.put(seal)
    assert readings.put(seal)

    with caplog.at_level(logging.WARNING, logger="edge"):
        refused = [readings.put(seal) for _ in range(1000)]  # within the same minute
        assert not any(refused)
        assert len(_overflow_lines(caplog)) == 1  # the first, not a thousand

        now[0] += 59.0
        readings.put(seal)
        assert len(_overflow_lines(caplog)) == 1

        now[0] += 1.0
        readings.put(seal)

    first, summary = _overflow_lines(caplog)
    assert first["refused"] == 1
    assert summary["refused"] == 1001  # every refusal since the first line is counted
    assert summary["overflow"] == 1002
    assert readings.overflow == 1002
    assert readings.overflow_by_device == {"seal-1": 1002}
