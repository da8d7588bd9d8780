"""Plate crops: files under the data directory within a quota, referenced by their readings."""

from __future__ import annotations

import base64
import datetime as dt
import json
import sqlite3
from pathlib import Path

from alembic import command
from alembic.config import Config as AlembicConfig
from sqlalchemy import Engine

from edge.arrivals import ArrivalStore
from edge.crops import CropStore
from edge.readings import PlateCandidate, PlateReading, reading_from_dict
from edge.store.database import _MIGRATIONS, DATABASE_NAME, create_store_engine, migrate

T0 = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)
JPEG = b"\xff\xd8\xff\xe0" + bytes(range(256)) * 20 + b"\xff\xd9"  # 5 kB, as a small crop


def store(tmp_path: Path, quota_bytes: int = 1 << 30, days: int = 30) -> CropStore:
    return CropStore(tmp_path / "crops", quota_bytes, dt.timedelta(days=days))


def test_a_crop_saved_is_read_back_by_its_reference(tmp_path: Path) -> None:
    crops = store(tmp_path)
    ref = crops.save(JPEG, T0)
    assert ref.startswith("2026-11-28/083000000000-")
    assert crops.load(ref) == JPEG
    assert crops.size() >= len(JPEG)


def test_a_reference_outside_the_store_is_refused(tmp_path: Path) -> None:
    (tmp_path / "secret.jpg").write_bytes(b"not for the kiosk")
    crops = store(tmp_path)
    assert crops.load("../secret.jpg") is None
    assert crops.load("2026-11-28/../../secret.jpg") is None


def test_over_the_quota_the_oldest_crops_go_first(tmp_path: Path) -> None:
    one = store(tmp_path / "probe")
    per_file = one.size() if one.save(JPEG, T0) else 0
    crops = store(tmp_path, quota_bytes=per_file * 10)
    refs = [crops.save(JPEG, T0 + dt.timedelta(hours=h)) for h in range(30)]
    assert crops.size() <= per_file * 10
    kept = [ref for ref in refs if crops.load(ref) is not None]
    assert kept == refs[-len(kept) :], "the newest crops are the ones kept"
    assert 1 <= len(kept) <= 10
    assert crops.evicted == 30 - len(kept)


def test_the_quota_holds_across_a_restart(tmp_path: Path) -> None:
    first = store(tmp_path)
    refs = [first.save(JPEG, T0 + dt.timedelta(minutes=m)) for m in range(8)]
    per_file = first.size() // 8
    again = store(tmp_path, quota_bytes=per_file * 4)  # a smaller quota after a restart
    again.save(JPEG, T0 + dt.timedelta(hours=1))
    assert again.size() <= per_file * 4
    assert again.load(refs[0]) is None
    assert again.load(refs[-1]) is not None


def test_crops_older_than_their_days_are_purged(tmp_path: Path) -> None:
    crops = store(tmp_path, days=30)
    old = crops.save(JPEG, T0 - dt.timedelta(days=31))
    recent = crops.save(JPEG, T0 - dt.timedelta(days=29))
    assert crops.purge(T0) == 1
    assert crops.load(old) is None
    assert crops.load(recent) == JPEG
    assert not (tmp_path / "crops" / "2026-10-28").exists()


def test_shedding_frees_what_was_asked_oldest_first(tmp_path: Path) -> None:
    crops = store(tmp_path)
    refs = [crops.save(JPEG, T0 + dt.timedelta(minutes=m)) for m in range(10)]
    per_file = crops.size() // 10
    freed = crops.shed(per_file * 3)
    assert freed >= per_file * 3
    assert [crops.load(r) is None for r in refs[:3]] == [True] * 3
    assert crops.load(refs[3]) == JPEG
    assert crops.shed(1 << 40) == per_file * 7  # asked for more than there is: all of it
    assert crops.size() == 0


def plate_with_crop(at: dt.datetime) -> PlateReading:
    return PlateReading("cam-1", at, (PlateCandidate("777ABC02", 0.9, "tractor"),), JPEG)


def test_a_plate_readings_row_keeps_a_reference_not_the_image(engine: Engine) -> None:
    arrivals = ArrivalStore(engine)
    arrival_id = arrivals.open("1", "camera", T0)
    arrivals.add_reading(arrival_id, plate_with_crop(T0))
    with engine.connect() as conn:
        (text,) = conn.exec_driver_sql("SELECT reading FROM arrival_readings").one()
    row = json.loads(text)
    assert "crop_jpeg" not in row
    assert row["crop"].startswith("2026-11-28/")
    assert len(text) < 400, "the row holds no image"
    arrival = arrivals.get(arrival_id)
    assert arrival is not None
    read_back = reading_from_dict(arrival.readings[0].data)
    assert isinstance(read_back, PlateReading)
    assert read_back.crop_jpeg == JPEG


def test_a_crop_gone_from_the_store_reads_as_none(engine: Engine) -> None:
    arrivals = ArrivalStore(engine)
    arrival_id = arrivals.open("1", "camera", T0)
    arrivals.add_reading(arrival_id, plate_with_crop(T0))
    assert arrivals.crops is not None
    arrivals.crops.shed(1 << 40)
    arrival = arrivals.get(arrival_id)
    assert arrival is not None
    assert "crop_jpeg" not in arrival.readings[0].data
    read_back = reading_from_dict(arrival.readings[0].data)
    assert isinstance(read_back, PlateReading)
    assert read_back.crop_jpeg is None
    assert read_back.candidates[0].text == "777ABC02"


def test_the_migration_moves_inline_crops_of_an_older_store_into_files(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    engine = create_store_engine(data_dir / DATABASE_NAME)
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:  # the store as revision 0006 left it
        config.attributes["connection"] = connection
        command.upgrade(config, "0006")
    old_row = plate_with_crop(T0).to_dict()
    assert "crop_jpeg" in old_row
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        db.execute(
            "INSERT INTO arrivals (id, lane, opened_at, opened_by, updated_at)"
            " VALUES (1, '1', '2026-11-28T08:30:00.000000Z', 'camera',"
            " '2026-11-28T08:30:00.000000Z')"
        )
        db.execute(
            "INSERT INTO arrival_readings VALUES (1, 1, 'plate', 'cam-1',"
            " '2026-11-28T08:30:00.000000Z', ?)",
            (json.dumps(old_row),),
        )
        db.execute(  # a broken crop: dropped, the reading kept
            "INSERT INTO arrival_readings VALUES (1, 2, 'plate', 'cam-1',"
            " '2026-11-28T08:30:01.000000Z', ?)",
            (json.dumps(old_row | {"crop_jpeg": "not base64!"}),),
        )
    migrate(engine)
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        rows = [json.loads(r) for (r,) in db.execute("SELECT reading FROM arrival_readings")]
    assert all("crop_jpeg" not in row for row in rows)
    assert "crop" not in rows[1]
    assert rows[1]["candidates"][0]["text"] == "777ABC02"
    arrival = ArrivalStore(engine).get(1)
    assert arrival is not None
    assert base64.b64decode(str(arrival.readings[0].data["crop_jpeg"])) == JPEG
