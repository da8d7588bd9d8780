"""Plates read from a lane camera reach the matcher: the service runs the camera, the trigger,
the recognition worker and the lanes as on the box, and the truck is matched to its record, also
when the camera cannot read its plate exactly."""

from __future__ import annotations

import json
import random
import sqlite3
from pathlib import Path

import cv2
import numpy as np

from drivers.sim.camera import road, write_video
from drivers.sim.plates import render_scene
from edge.crops import CROPS_DIR
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.plate_formats import formats_for
from edge.plates import canonical_key
from edge.store import open_database
from edge.store.database import DATABASE_NAME
from edge.timeutil import format_utc, utcnow
from tests.fixtures.records import record
from tests.integration.service_process import ServiceProcess

PLATE = "777 ABC 02"  # the fixture record's tractor


def _camera_config(tmp_path: Path, video: Path) -> Path:
    config = tmp_path / "box.toml"
    config.write_text(
        f"""
[kiosk]
enabled = false

[[devices]]
kind = "camera"
id = "cam-1"
lane = "2"
source = "{video}"
fps_limit = 10.0
""",
        encoding="utf-8",
    )
    return config


def _run_lane(
    tmp_path: Path, video: Path
) -> tuple[dict[str, object], str | None, dict[str, object]]:
    """The plate reading the lane stored, and the arrival's best record and match."""
    data = tmp_path / "data"
    ManifestCache(open_database(data)).upsert(
        [parse_manifest(record(ref="T1", expected_arrival=format_utc(utcnow())))]
    )
    with ServiceProcess(_camera_config(tmp_path, video), data) as service:
        service.wait_log("arrival.reading", "device=cam-1", "kind=plate", "lane=2", timeout=120)
        assert service.stop() == 0
    with sqlite3.connect(data / DATABASE_NAME) as db:
        (best_ref, match), *_ = db.execute("SELECT best_ref, match FROM arrivals").fetchall()
        plates = [
            json.loads(r)
            for (r,) in db.execute("SELECT reading FROM arrival_readings ORDER BY seq")
            if json.loads(r)["kind"] == "plate"
        ]
    return plates[-1], best_ref, json.loads(match)


def test_a_truck_seen_by_the_lane_camera_is_read_and_matched(tmp_path: Path) -> None:
    video = write_video(tmp_path / "lane.avi", [PLATE], fps=10.0, country="KZ")
    plate, best_ref, match = _run_lane(tmp_path, video)
    assert plate["candidates"][0]["text"] == PLATE  # type: ignore[index]
    assert plate["candidates"][0]["country"] == "KZ"  # type: ignore[index]
    # The crop is a file of the crop store (edge.crops); the row keeps its reference.
    crop = (tmp_path / "data" / CROPS_DIR / str(plate["crop"])).read_bytes()
    assert crop.startswith(b"\xff\xd8")  # a JPEG
    assert best_ref == "T1"
    assert match["candidates"][0]["discrepancies"] == [] or all(  # type: ignore[index]
        d["code"] != "PLATE_APPROXIMATE"
        for d in match["candidates"][0]["discrepancies"]  # type: ignore[index]
    )


def test_a_plate_one_character_off_its_record_still_matches_it(tmp_path: Path) -> None:
    # The plate's last character is not the record's: a character the camera cannot make out
    # read as another, or the declarant's typo. (The plate is printed that way rather than
    # hidden under a patch of mud: what a reader guesses under mud, and how surely, changes
    # with every retraining; what the matcher does with a read one character off does not.)
    fmt = formats_for("KZ", "vehicle")[0]
    off_by_one = PLATE[:-1] + "3"
    frame, _ = render_scene(off_by_one, fmt, random.Random(3), strength=0.0, two_line=False)
    video = tmp_path / "lane.avi"
    writer = cv2.VideoWriter(str(video), cv2.VideoWriter.fourcc(*"MJPG"), 10.0, (1280, 720))
    for image in (
        [np.array(road((1280, 720)))] * 20 + [frame] * 40 + [np.array(road((1280, 720)))] * 20
    ):
        writer.write(image)
    writer.release()
    plate, best_ref, match = _run_lane(tmp_path, video)
    read = plate["candidates"][0]["text"]  # type: ignore[index]
    assert canonical_key(str(read)) == canonical_key(off_by_one)  # the read is not the record's ...
    assert best_ref == "T1"  # ... and the truck is matched all the same
    codes = [d["code"] for d in match["candidates"][0]["discrepancies"]]  # type: ignore[index]
    assert "PLATE_APPROXIMATE" in codes
