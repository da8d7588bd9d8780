"""The reading quarantine keeps what went wrong, not the truck's picture, and not for ever."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from edge.config import RetentionConfig
from edge.crops import CropStore
from edge.reading_quarantine import ReadingQuarantine
from edge.readings import PlateCandidate, PlateReading
from edge.service import upkeep
from edge.store.schema import reading_quarantine
from edge.timeutil import set_clock

NOW = dt.datetime(2032, 6, 1, 12, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
JPEG = b"\xff\xd8\xff\xe0" + b"J" * 5000


@pytest.fixture
def clock() -> Iterator[list[dt.datetime]]:
    now = [NOW]
    set_clock(lambda: now[0])
    yield now
    set_clock(None)


def plate() -> PlateReading:
    return PlateReading("cam-1", NOW, (PlateCandidate("777ABC02", 0.9),), crop_jpeg=JPEG)


def stored(engine: Engine) -> list[dict[str, object]]:
    with engine.connect() as conn:
        return [json.loads(r) for r in conn.execute(select(reading_quarantine.c.reading)).scalars()]


def test_a_quarantined_plate_reading_keeps_a_marker_not_its_crop(
    engine: Engine, clock: list[dt.datetime]
) -> None:
    ReadingQuarantine(engine).keep(plate(), "ValueError: broken")
    [row] = stored(engine)
    assert row["crop_jpeg"] == f"<not kept: {len(JPEG)} bytes>"
    assert row["candidates"][0]["text"] == "777ABC02"  # type: ignore[index]


def test_the_retention_pass_purges_quarantined_readings_past_their_days(
    engine: Engine, clock: list[dt.datetime], tmp_path: Path
) -> None:
    retention = RetentionConfig(quarantine_days=90)
    quarantine = ReadingQuarantine(engine)
    clock[0] = NOW - 91 * DAY
    quarantine.keep(plate(), "old")
    clock[0] = NOW - 89 * DAY
    quarantine.keep(plate(), "recent")
    crops = CropStore(tmp_path / "crops", 1 << 20, dt.timedelta(days=30))

    counts = upkeep.purge_retention(engine, crops, retention, NOW)

    assert counts["reading_quarantine"] == 1
    with engine.connect() as conn:
        reasons = conn.execute(select(reading_quarantine.c.reason)).scalars().all()
    assert reasons == ["recent"]
