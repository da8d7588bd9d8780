"""The recognition worker process: it reads frames, survives bad frames, and is restarted
(and says so in its health) when it dies."""

from __future__ import annotations

import os
import queue
import random
import signal
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest

from drivers.plates.recognizer import FrameResult
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
