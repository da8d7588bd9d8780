"""The presence trigger: says when a vehicle comes into a camera's view and when it leaves, and
while it is there hands frames, at a bounded rate, to plate recognition.

Detection is a running-average background and the fraction of a small grey copy of the frame
that differs from it, with hysteresis: `min_frames_present` frames above `threshold` make the
vehicle present, `frames_absent_to_clear` frames below the clear threshold make it gone.
Frames below the clear threshold (the empty road while it makes sure) are not handed on.

It runs in a thread of its own that reads the camera's mailbox, not in the capture thread:
capture must keep draining the source at the camera's pace (an RTSP reader that falls behind
builds latency, then loses packets and decodes broken frames), and the frame sink may block for
a moment handing a frame to the recognition worker. Reading the one-slot mailbox, the trigger
skips frames it cannot keep up with instead of stalling capture. OpenCV releases the GIL, so on
a 2-core box the two threads overlap. At the default 160 px analysis width a 720p frame costs
about 0.3 ms, so in practice the trigger sees every frame."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from drivers.camera.capture import Camera, Frame, Image
from drivers.camera.config import TriggerConfig
from edge.readings import PresenceChange, Reading
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

FrameSink = Callable[[Frame], None]
ReadingCallback = Callable[[Reading], None]

LOST_VIEW_S = 3.0  # without frames this long, the trigger forgets the scene (and any vehicle)
_WAIT_S = 0.5


class MotionDetector:
    """How much of the view differs from the learnt empty scene, frame by frame."""

    def __init__(self, config: TriggerConfig) -> None:
        self.config = config
        self._background: npt.NDArray[np.float32] | None = None
        self._slow_rate = 3.0 / config.relearn_frames  # 95 % learnt after relearn_frames

    def reset(self) -> None:
        self._background = None

    def changed_fraction(self, image: Image) -> float:
        """0..1; the first frame after a reset becomes the background and gives 0."""
        small = self._small_grey(image)
        background = self._background
        if background is None or background.shape != small.shape:
            self._background = small.astype(np.float32)
            return 0.0
        diff = cv2.absdiff(small, cv2.convertScaleAbs(background))
        _, changed = cv2.threshold(diff, self.config.pixel_delta, 255, cv2.THRESH_BINARY)
        fraction = cv2.countNonZero(changed) / changed.size
        # The road follows light and shadow where nothing stands on it; a vehicle that stops
        # is not learnt into the road, except at the slow rate that absorbs a lasting change.
        cv2.accumulateWeighted(
            small, background, self.config.learning_rate, cv2.bitwise_not(changed)
        )
        cv2.accumulateWeighted(small, background, self._slow_rate)
        return fraction

    def _small_grey(self, image: Image) -> npt.NDArray[np.uint8]:
        height, width = image.shape[:2]
        if self.config.roi is not None:
            x, y, w, h = self.config.roi
            image = image[
                round(y * height) : round((y + h) * height),
                round(x * width) : round((x + w) * width),
            ]
            height, width = image.shape[:2]
        out_w = min(self.config.analysis_width, width)
        out_h = max(1, round(height * out_w / width))
        # Sampling down to twice the size, then averaging 2x2, costs a tenth of INTER_AREA on
        # the full frame and still averages away most sensor noise.
        coarse = cv2.resize(image, (out_w * 2, out_h * 2), interpolation=cv2.INTER_NEAREST)
        grey = cv2.cvtColor(coarse, cv2.COLOR_BGR2GRAY)
        small = cv2.resize(grey, (out_w, out_h), interpolation=cv2.INTER_AREA)
        return np.asarray(cv2.GaussianBlur(small, (3, 3), 0), dtype=np.uint8)


@dataclass
class TriggerStats:
    frames: int = 0  # frames evaluated
    skipped: int = 0  # frames the camera took that the trigger never saw
    changes: int = 0  # presence changes emitted
    sunk: int = 0  # frames handed to the sink
    errors: int = 0  # exceptions in detection or in a callback
    cost_s: float = 0.0  # time spent detecting

    @property
    def mean_cost_ms(self) -> float:
        return 1000.0 * self.cost_s / self.frames if self.frames else 0.0


class PresenceTrigger:
    def __init__(
        self,
        camera: Camera,
        config: TriggerConfig,
        on_reading: ReadingCallback,
        on_frame: FrameSink | None = None,
    ) -> None:
        self.camera = camera
        self.config = config
        self.on_reading = on_reading
        self.on_frame = on_frame
        self.detector = MotionDetector(config)
        self.stats = TriggerStats()
        self.present = False
        self.last_seq = 0  # of the frame being (or last) evaluated
        self.last_fraction = 0.0
        self._above = self._below = 0
        self._sink_due = 0.0
        self._last_frame_at = 0.0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"trigger-{self.camera.device_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def update(self, frame: Frame) -> PresenceChange | None:
        """Evaluate one frame; the presence change it makes, if any."""
        started = time.perf_counter()
        fraction = self.detector.changed_fraction(frame.image)
        self.stats.cost_s += time.perf_counter() - started
        self.stats.frames += 1
        self.last_fraction = fraction
        if fraction >= self.config.threshold:
            self._above, self._below = self._above + 1, 0
        elif fraction < self.config.leave_threshold:
            self._above, self._below = 0, self._below + 1
        else:
            self._above = 0  # between the thresholds: neither arriving nor leaving
        if not self.present and self._above >= self.config.min_frames_present:
            return self._change(True, frame)
        if self.present and self._below >= self.config.frames_absent_to_clear:
            return self._change(False, frame)
        return None

    def _change(self, present: bool, frame: Frame) -> PresenceChange:
        self.present = present
        self._sink_due = 0.0  # the first frame of a vehicle goes to the sink at once
        self.stats.changes += 1
        return PresenceChange(device=frame.device, at=frame.at, present=present)

    # -- the trigger thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            frame = self.camera.wait_frame(self.last_seq, timeout=_WAIT_S)
            now = time.monotonic()
            if frame is None:
                if self._last_frame_at and now - self._last_frame_at > LOST_VIEW_S:
                    self._lose_view()
                continue
            if self.last_seq and frame.seq > self.last_seq + 1:
                self.stats.skipped += frame.seq - self.last_seq - 1
            self.last_seq, self._last_frame_at = frame.seq, now
            try:
                self._step(frame, now)
            except Exception:  # a bad frame or a listener's bug must not end the trigger
                self.stats.errors += 1
                log.exception("trigger.failed", extra={"device": self.camera.device_id})

    def _step(self, frame: Frame, now: float) -> None:
        change = self.update(frame)
        if change is not None:
            log.info("camera.presence", extra={"device": frame.device, "present": change.present})
            self.on_reading(change)
        showing = self.last_fraction >= self.config.leave_threshold  # not the empty road of leaving
        if self.present and showing and self.on_frame is not None and now >= self._sink_due:
            self._sink_due = now + 1.0 / self.config.sink_fps
            self.stats.sunk += 1
            self.on_frame(frame)

    def _lose_view(self) -> None:
        """The camera has been gone a while: whatever was in view may have left unseen, and the
        scene it comes back to is learnt afresh."""
        self._last_frame_at = 0.0
        self.detector.reset()
        self._above = self._below = 0
        if self.present:
            self.present = False
            self.stats.changes += 1
            try:
                self.on_reading(
                    PresenceChange(device=self.camera.device_id, at=utcnow(), present=False)
                )
            except Exception:
                self.stats.errors += 1
                log.exception("trigger.failed", extra={"device": self.camera.device_id})
