"""The camera driver on simulated lanes: video files and an MJPEG stream from drivers.sim.camera,
opened by the real OpenCV capture, with the presence trigger and a frame sink behind it."""

from __future__ import annotations

import itertools
import os
import queue
import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.backoff import Backoff
from drivers.camera import Camera, CameraConfig, Frame, PresenceTrigger, Source
from drivers.camera.capture import GOOD_FRAMES_TO_RECOVER
from drivers.sim.camera import (
    STOP_FROM,
    LaneStep,
    lane_sequence,
    render_sequence,
    serve_mjpeg,
    write_video,
)
from edge.readings import Health, PresenceChange, Reading
from tests.event_queue import next_event

TIMEOUT_S = 60.0  # a bound on waits that take a fraction of a second, for a loaded 2-core box
SIZE = (640, 360)
PLATES = ["777 ABC 02", "А 123 ВС 77"]
FPS, SECONDS_PER_TRUCK, GAP_S = 10, 4.0, 1.5


def config(source: str | Path, **changes: object) -> CameraConfig:
    settings: dict[str, object] = {"fps_limit": 100, "read_timeout_s": 2, "open_timeout_s": 2}
    return CameraConfig(id="cam-1", source=str(source), **(settings | changes))


class CountingBackoff(Backoff):
    """Short delays, each one announced: the camera is retrying."""

    def __init__(self) -> None:
        super().__init__(initial_s=0.05, cap_s=0.2)
        self.retries: queue.Queue[float] = queue.Queue()

    def next_delay(self) -> float:
        delay = super().next_delay()
        self.retries.put(delay)
        return delay


@dataclass
class Lane:
    camera: Camera
    backoff: CountingBackoff
    health: queue.Queue[tuple[Health, str]] = field(default_factory=queue.Queue)
    presence: queue.Queue[tuple[PresenceChange, int]] = field(default_factory=queue.Queue)
    sunk: queue.Queue[Frame] = field(default_factory=queue.Queue)
    trigger: PresenceTrigger | None = None

    def wait_health(self, wanted: Health, timeout: float = TIMEOUT_S) -> str:
        deadline = time.monotonic() + timeout
        while True:
            health, why = next_event(self.health, deadline - time.monotonic(), f"health {wanted}")
            if health == wanted:
                return why

    def next_frame(self, after_seq: int = 0, timeout: float = TIMEOUT_S) -> Frame:
        frame = self.camera.wait_frame(after_seq, timeout)
        assert frame is not None, f"no frame after seq {after_seq} within {timeout} s"
        return frame

    def presence_changes(self, count: int) -> list[tuple[PresenceChange, int]]:
        return [next_event(self.presence, TIMEOUT_S, "presence change") for _ in range(count)]

    def next_retry(self) -> float:
        return next_event(self.backoff.retries, TIMEOUT_S, "retry of the camera")


@contextmanager
def lane(camera_config: CameraConfig, *, trigger: bool = False, **camera_args: object) -> Iterator[Lane]:  # fmt: skip
    backoff = CountingBackoff()
    harness = Lane(None, backoff)  # type: ignore[arg-type]
    harness.camera = Camera(
        camera_config,
        on_health=lambda _id, health, why: harness.health.put((health, why)),
        backoff=backoff,
        **camera_args,  # type: ignore[arg-type]
    )
    if trigger:

        def on_reading(reading: Reading) -> None:
            assert isinstance(reading, PresenceChange)
            assert harness.trigger is not None
            harness.presence.put((reading, harness.trigger.last_seq))

        harness.trigger = PresenceTrigger(harness.camera, camera_config.trigger, on_reading, harness.sunk.put)  # fmt: skip
        harness.trigger.start()
    harness.camera.start()
    try:
        yield harness
    finally:
        harness.camera.stop()
        if harness.trigger is not None:
            harness.trigger.stop()
            assert not harness.trigger.is_alive()
        assert not harness.camera.is_alive()


@pytest.fixture(scope="module")
def two_trucks(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[LaneStep]]:
    path = tmp_path_factory.mktemp("lane") / "two-trucks.avi"
    write_video(path, PLATES, fps=FPS, seconds_per_truck=SECONDS_PER_TRUCK, gap_seconds=GAP_S, size=SIZE)  # fmt: skip
    steps = lane_sequence(PLATES, fps=FPS, seconds_per_truck=SECONDS_PER_TRUCK, gap_seconds=GAP_S)
    return path, steps


@pytest.fixture(scope="module")
def short_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("clip") / "clip.avi"
    return write_video(path, ["777 ABC 02"], fps=10, seconds_per_truck=1, gap_seconds=0.5, size=(320, 180))  # fmt: skip


def shows_truck(step: LaneStep) -> bool:
    return step is not None


def test_each_truck_in_a_video_is_present_then_gone_and_only_its_frames_reach_the_sink(
    two_trucks: tuple[Path, list[LaneStep]],
) -> None:
    path, steps = two_trucks
    settings = config(path, trigger={"sink_fps": 50, "frames_absent_to_clear": 5})
    with lane(settings, trigger=True) as road:
        changes = road.presence_changes(4)
        why = road.wait_health(Health.DISCONNECTED)  # the file ended and does not loop
    assert "end of file" in why
    assert [change.present for change, _ in changes] == [True, False, True, False]
    assert all(change.device == "cam-1" and change.at.tzinfo is not None for change, _ in changes)
    # seq n is the file's frame n - 1 on its first pass: compare with what the frame showed.
    onsets, clears = [seq for _, seq in changes[::2]], [seq for _, seq in changes[1::2]]
    for plate, onset, clear in zip(PLATES, onsets, clears, strict=True):
        entering = steps[onset - 1]
        assert entering is not None, (plate, onset)
        assert entering[0] == plate
        assert entering[1] < STOP_FROM  # noticed while driving in, not once stopped
        assert steps[clear - 1] is None  # cleared on empty road ...
        assert all(step is None for step in steps[clear - 1 : clear + 2])  # ... before the next
    sunk = []
    while not road.sunk.empty():
        sunk.append(road.sunk.get_nowait())
    seqs = [frame.seq for frame in sunk]
    assert seqs == sorted(seqs)
    for plate, onset, clear in zip(PLATES, onsets, clears, strict=True):
        mine = [seq for seq in seqs if onset <= seq < clear]
        assert len(mine) >= 10, (plate, mine)
        assert all(steps[seq - 1] is not None and steps[seq - 1][0] == plate for seq in mine)  # type: ignore[index]
    assert all(any(on <= seq < off for on, off in zip(onsets, clears, strict=True)) for seq in seqs)


def test_a_slow_reader_gets_only_the_newest_frames_and_the_rest_are_counted_as_dropped(
    short_clip: Path,
) -> None:
    # The reader is slow by construction, not by sleeping: it takes a frame only once the
    # camera has posted SKIP more after the newest it saw, so the SKIP - 1 in between were
    # each replaced in the mailbox before anyone took them.
    skip, reads = 5, 8
    with lane(config(short_clip, fps_limit=200, loop=True)) as road:
        seqs = []
        frame = road.next_frame()
        newest_seen = frame.seq
        for _ in range(reads):
            seqs.append(frame.seq)
            frame = road.next_frame(after_seq=newest_seen + skip - 1)
            newest = road.camera.latest()
            assert newest is not None
            assert frame.seq <= newest.seq
            newest_seen = newest.seq
        dropped = road.camera.stats.dropped
    assert seqs == sorted(set(seqs))
    assert min(b - a for a, b in itertools.pairwise(seqs)) >= skip
    assert dropped >= reads * (skip - 1)
    assert frame.image.shape == (180, 320, 3)
    with pytest.raises(ValueError, match="read-only"):
        frame.image[0, 0] = 0  # readers share the frame


def test_a_file_that_disappears_and_comes_back_disconnects_then_reconnects_by_itself(
    tmp_path: Path, short_clip: Path
) -> None:
    path = tmp_path / "lane.avi"
    shutil.copy(short_clip, path)
    with lane(config(path, loop=True)) as road:
        assert "frames from" in road.wait_health(Health.CONNECTED)
        path.unlink()  # the open file plays to its end, then cannot be reopened
        assert "no such file" in road.wait_health(Health.DISCONNECTED)
        last_seq = road.next_frame().seq
        road.next_retry()  # it keeps trying
        staged = tmp_path / "staged.avi"
        shutil.copy(short_clip, staged)
        os.replace(staged, path)
        road.wait_health(Health.CONNECTED)
        assert road.next_frame(after_seq=last_seq).seq > last_seq


def test_a_corrupt_file_is_reported_disconnected_with_a_reason_and_retried(tmp_path: Path) -> None:
    path = tmp_path / "broken.avi"
    path.write_bytes(np.random.default_rng(4).integers(0, 256, 200_000, dtype=np.uint8).tobytes())
    failures: list[BaseException] = []
    previous_hook = threading.excepthook
    threading.excepthook = lambda args: failures.append(args.exc_value)  # type: ignore[arg-type]
    try:
        with lane(config(path)) as road:
            why = road.wait_health(Health.DISCONNECTED)
            for _ in range(3):
                road.next_retry()
            assert road.camera.is_alive()
            assert road.camera.latest() is None
            stats = road.camera.stats
    finally:
        threading.excepthook = previous_hook
    assert "broken.avi: OpenCV cannot read it as video" in why
    assert stats.open_failures >= 3
    assert stats.errors == 0
    assert failures == []


class ScriptedCapture:
    """A capture that plays a script: an image, a failed decode, or an exception per frame."""

    def __init__(self, script: list[np.ndarray | Exception | None]) -> None:
        self.script, self.index = script, -1

    def isOpened(self) -> bool:  # noqa: N802
        return bool(self.script)

    def grab(self) -> bool:
        self.index += 1
        return self.index < len(self.script)

    def retrieve(self) -> tuple[bool, np.ndarray]:
        step = self.script[self.index]
        if isinstance(step, Exception):
            raise step
        return (step is not None), (step if step is not None else np.empty(0, np.uint8))

    def get(self, propId: int) -> float:  # noqa: N803
        return 0.0

    def release(self) -> None:
        pass


def test_bad_frames_degrade_the_camera_but_never_stop_it() -> None:
    good = np.full((90, 160, 3), 120, np.uint8)
    grey = np.full((90, 160), 60, np.uint8)
    broken: list[np.ndarray | Exception | None] = [None, np.zeros((4, 4, 7), np.uint8), cv2.error("decoder")]  # fmt: skip
    script = [good] * 3 + broken + [grey] + [good] * (GOOD_FRAMES_TO_RECOVER + 5)
    captures = iter([ScriptedCapture(script)])

    def open_capture(_source: Source, _config: CameraConfig) -> ScriptedCapture:
        return next(captures, ScriptedCapture([]))  # after the script, the camera is gone

    settings = config("http://camera.invalid/stream", fps_limit=None)  # live: no frame skipped
    with lane(settings, open_capture=open_capture) as road:
        assert road.wait_health(Health.CONNECTED)
        assert "bad frame" in road.wait_health(Health.DEGRADED)
        assert "good frames in a row" in road.wait_health(Health.CONNECTED)
        road.wait_health(Health.DISCONNECTED)
        road.next_retry()
        assert road.camera.is_alive()
        stats = road.camera.stats
        newest = road.camera.latest()
    assert (stats.corrupt, stats.errors) == (2, 1)
    assert stats.frames_read == 3 + 1 + GOOD_FRAMES_TO_RECOVER + 5  # the grey frame, as BGR
    assert newest is not None
    assert newest.image.shape == (90, 160, 3)


def test_an_mjpeg_camera_that_reboots_is_reconnected_and_its_trucks_trigger() -> None:
    steps = lane_sequence(PLATES[:1], fps=25, seconds_per_truck=1.6, gap_seconds=0.4)
    frames = list(render_sequence(steps, size=(320, 180)))
    with serve_mjpeg(frames, fps=25) as camera_box:
        settings = config(camera_box.url, fps_limit=None, trigger={"frames_absent_to_clear": 4})
        with lane(settings, trigger=True) as road:
            road.wait_health(Health.CONNECTED)
            first = road.next_frame()
            assert first.image.shape == (180, 320, 3)
            assert [change.present for change, _ in road.presence_changes(2)] == [True, False]
            camera_box.stop()  # the camera reboots ...
            assert "stream" in road.wait_health(Health.DISCONNECTED)
            last_seq = road.next_frame().seq
            with serve_mjpeg(frames, port=camera_box.port, fps=25):  # ... and is back
                road.wait_health(Health.CONNECTED)
                assert road.next_frame(after_seq=last_seq).seq > last_seq
            reconnects = road.camera.stats.reconnects
    assert reconnects >= 1
