"""The recognition worker process: it reads frames, survives bad frames, and is restarted
(and says so in its health) when it dies."""

from __future__ import annotations

import os
import queue
import random
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from drivers.plates.recognizer import FrameResult, RecognizerSettings
from drivers.plates.worker import PlateWorker
from drivers.sim.plates import render_scene
from edge.plate_formats import formats_for
from edge.readings import Health

WAIT_S = 120.0  # model loading on a loaded CI machine


class Collected:
    def __init__(self) -> None:
        self.results: queue.Queue[tuple[Any, FrameResult | None, str | None]] = queue.Queue()
        self.health: queue.Queue[tuple[Health, str]] = queue.Queue()

    def result(self) -> tuple[Any, FrameResult | None, str | None]:
        return self.results.get(timeout=WAIT_S)

    def health_becomes(self, wanted: Health) -> str:
        while True:
            health, why = self.health.get(timeout=WAIT_S)
            if health is wanted:
                return why


@pytest.fixture
def worker() -> Iterator[tuple[PlateWorker, Collected]]:
    seen = Collected()
    plate_worker = PlateWorker(
        lambda tag, result, error: seen.results.put((tag, result, error)),
        on_health=lambda health, why: seen.health.put((health, why)),
    )
    plate_worker.start()
    assert plate_worker.ready.wait(WAIT_S)
    yield plate_worker, seen
    plate_worker.stop()


def kz_frame() -> tuple[np.ndarray, str]:
    fmt = formats_for("KZ", "vehicle")[0]
    rng = random.Random(5)
    text = fmt.random_plate(rng)
    frame, _ = render_scene(text, fmt, rng, strength=0.1)
    return frame, text


def test_a_frame_is_read_in_the_worker_process(worker: tuple[PlateWorker, Collected]) -> None:
    plate_worker, seen = worker
    assert plate_worker.pid != os.getpid()
    frame, text = kz_frame()
    plate_worker.submit(frame, "truck-1")
    tag, result, error = seen.result()
    assert (tag, error) == ("truck-1", None)
    assert result is not None
    assert result.candidates[0].guess.written == text
    assert result.candidates[0].crop_jpeg.startswith(b"\xff\xd8")  # a JPEG


def test_a_corrupt_frame_is_answered_with_its_error_and_the_next_is_read(
    worker: tuple[PlateWorker, Collected],
) -> None:
    plate_worker, seen = worker
    plate_worker.submit(np.zeros((4, 4), np.uint8), "corrupt")  # grey, not BGR
    tag, result, error = seen.result()
    assert (tag, result) == ("corrupt", None)
    assert error is not None
    assert "BGR" in error
    plate_worker.submit(kz_frame()[0], "good")
    assert seen.result()[2] is None
    assert plate_worker.stats.failed == 1
    assert plate_worker.stats.restarts == 0


def test_a_killed_worker_is_restarted_reported_in_health_and_reads_again(
    worker: tuple[PlateWorker, Collected],
) -> None:
    plate_worker, seen = worker
    seen.health_becomes(Health.CONNECTED)
    frame, text = kz_frame()
    pid = plate_worker.pid
    assert pid is not None
    plate_worker.submit(frame, "during-the-crash")
    os.kill(pid, signal.SIGKILL)
    # the frame it held was read before the kill or is reported lost, never silently gone
    tag, result, error = seen.result()
    assert tag == "during-the-crash"
    assert result is not None or (error is not None and "crashed" in error)
    why = seen.health_becomes(Health.DEGRADED)
    assert "restarted" in why
    assert plate_worker.stats.restarts == 1
    assert plate_worker.ready.wait(WAIT_S)
    plate_worker.submit(frame, "after")
    tag, result, error = seen.result()
    assert (tag, error) == ("after", None)
    assert result is not None
    assert result.candidates[0].guess.written == text
    seen.health_becomes(Health.CONNECTED)
    assert plate_worker.pid not in (None, pid)


def test_a_frame_that_hangs_the_worker_ends_it_and_the_next_frame_is_read(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The worker process blocks for good on the first frame it is given (a hang in native
    # code, as far as the supervisor can tell); the deadline is generous for a real frame.
    monkeypatch.setenv("CAREC_EDGE_FAULTS", "plates.frame=hang@1")
    seen = Collected()
    plate_worker = PlateWorker(
        lambda tag, result, error: seen.results.put((tag, result, error)),
        on_health=lambda health, why: seen.health.put((health, why)),
        frame_deadline_s=20.0,
    )
    plate_worker.start()
    try:
        assert plate_worker.ready.wait(WAIT_S)
        hung_pid = plate_worker.pid
        frame, text = kz_frame()
        plate_worker.submit(frame, "hangs")
        tag, result, error = seen.result()
        assert (tag, result) == ("hangs", None)
        assert error is not None
        assert "hung" in error
        assert "deadline" in error
        why = seen.health_becomes(Health.DEGRADED)
        assert "restarted" in why
        assert "deadline" in why
        assert (plate_worker.stats.hung, plate_worker.stats.restarts) == (1, 1)

        plate_worker.submit(frame, "next")
        tag, result, error = seen.result()
        assert (tag, error) == ("next", None)
        assert result is not None
        assert result.candidates[0].guess.written == text
        seen.health_becomes(Health.CONNECTED)
        assert plate_worker.pid not in (None, hung_pid)
    finally:
        plate_worker.stop()


def test_a_missing_model_file_reads_degraded_not_connected(tmp_path: Path) -> None:
    seen = Collected()
    plate_worker = PlateWorker(
        lambda tag, result, error: seen.results.put((tag, result, error)),
        RecognizerSettings(reader_models=tmp_path / "no-models-here"),
        on_health=lambda health, why: seen.health.put((health, why)),
    )
    plate_worker.start()
    try:
        why = seen.health_becomes(Health.DEGRADED)
        assert "model is missing" in why
        assert "no-models-here" in why
        assert plate_worker.ready.is_set()
        frame, _ = kz_frame()
        plate_worker.submit(frame, "read by PP-OCR alone")
        tag, _, error = seen.result()
        assert (tag, error) == ("read by PP-OCR alone", None)
        assert plate_worker.health is Health.DEGRADED  # a frame read does not hide the gap
        assert plate_worker.stats.restarts == 0
    finally:
        plate_worker.stop()
