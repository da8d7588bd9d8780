"""A camera in a thread of its own: opens its source with OpenCV, keeps only the newest frame in
a one-slot mailbox, and when the source goes away (a camera reboot, a cable, a file that ends)
reports itself disconnected and reopens it with capped backoff. A bad frame or a bug in the
loop is logged and counted; nothing here stops the service."""

from __future__ import annotations

import datetime as dt
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, TypeAlias
from urllib.parse import urlsplit, urlunsplit

import cv2
import numpy as np
import numpy.typing as npt

from drivers.backoff import Backoff
from drivers.camera.config import CameraConfig, Source, parse_source
from edge.readings import Health
from edge.timeutil import utcnow

log = logging.getLogger(__name__)

Image: TypeAlias = npt.NDArray[np.uint8]
HealthCallback = Callable[[str, Health, str], None]  # device id, health, why

MAX_BAD_FRAMES_IN_ROW = 25  # then the source is reopened, as if it had gone away
GOOD_FRAMES_TO_RECOVER = 25  # clean frames in a row that take a degraded camera back to connected


@dataclass(frozen=True, eq=False)
class Frame:
    device: str
    seq: int  # counts up from 1 for as long as the Camera lives, across reconnects
    at: dt.datetime  # UTC, when it was grabbed
    image: Image  # BGR, 8 bits a channel; read-only, as every reader shares it


@dataclass
class CameraStats:
    frames_read: int = 0  # frames put in the mailbox
    dropped: int = 0  # replaced in the mailbox before anyone took them
    skipped: int = 0  # live frames passed over to stay within fps_limit
    corrupt: int = 0  # undecodable, or not an image
    errors: int = 0  # exceptions in the capture loop
    opens: int = 0
    open_failures: int = 0
    reconnects: int = 0  # sessions that ended after frames had flowed


class Capture(Protocol):
    """What the camera needs of cv2.VideoCapture (and what a test double provides)."""

    def isOpened(self) -> bool: ...  # noqa: N802 - OpenCV's names
    def grab(self) -> bool: ...
    def retrieve(self) -> tuple[bool, cv2.typing.MatLike]: ...
    def get(self, propId: int) -> float: ...  # noqa: N803
    def release(self) -> None: ...


OpenCapture = Callable[[Source, CameraConfig], Capture]


class Camera:
    def __init__(
        self,
        config: CameraConfig,
        *,
        on_health: HealthCallback | None = None,
        backoff: Backoff | None = None,
        open_capture: OpenCapture | None = None,
    ) -> None:
        self.config = config
        self.device_id = config.id
        self.source = parse_source(config.source)
        self.on_health = on_health
        self.backoff = backoff or Backoff(config.reconnect_initial_s, config.reconnect_max_s)
        self.stats = CameraStats()
        self.health = Health.DISCONNECTED
        self._reported = False  # the first health, even "disconnected", is always reported
        self._open_capture = open_capture or open_video_capture
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._mailbox = threading.Condition()
        self._newest: Frame | None = None
        self._newest_taken = False
        self._seq = 0
        self._good_in_row = 0

    def start(self) -> None:
        self._stop.clear()
        self._thread = threading.Thread(
            target=self._run, name=f"camera-{self.device_id}", daemon=True
        )
        self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._mailbox:
            self._mailbox.notify_all()  # waiting readers get None now, not at their timeout
        if self._thread is not None:
            self._thread.join(timeout)

    def is_alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    # -- the mailbox -------------------------------------------------------------------------

    def latest(self) -> Frame | None:
        """The newest frame, or None before the first."""
        with self._mailbox:
            self._newest_taken = self._newest is not None
            return self._newest

    def wait_frame(self, after_seq: int = 0, timeout: float | None = None) -> Frame | None:
        """The newest frame once its seq is above `after_seq`; None on timeout or stop."""
        with self._mailbox:
            self._mailbox.wait_for(
                lambda: self._has_newer(after_seq) or self._stop.is_set(), timeout
            )
            if not self._has_newer(after_seq):
                return None
            self._newest_taken = True
            return self._newest

    def _has_newer(self, after_seq: int) -> bool:
        return self._newest is not None and self._newest.seq > after_seq

    def _post(self, image: Image, at: dt.datetime) -> None:
        image.flags.writeable = False
        with self._mailbox:
            if self._newest is not None and not self._newest_taken:
                self.stats.dropped += 1
            self._seq += 1
            self._newest = Frame(self.device_id, self._seq, at, image)
            self._newest_taken = False
            self.stats.frames_read += 1
            self._mailbox.notify_all()

    # -- the capture thread ------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                ending = self._session()
            except Exception as error:  # a bug here must not end the camera for good
                log.exception("camera.crashed", extra={"device": self.device_id})
                self.stats.errors += 1
                ending = f"driver error: {error!r}; reopening"
            if self._stop.is_set():
                break
            if ending is None:
                continue  # a looped file starts again at once
            self._set_health(Health.DISCONNECTED, ending)
            self._stop.wait(self.backoff.next_delay())

    def _session(self) -> str | None:
        """Open the source and take frames until it ends: None to start again at once, else
        why the camera is disconnected."""
        self.stats.opens += 1
        capture = self._open_capture(self.source, self.config)
        try:
            if not capture.isOpened():
                self.stats.open_failures += 1
                return self._why_not_open()
            return self._pump(capture)
        finally:
            capture.release()

    def _pump(self, capture: Capture) -> str | None:
        interval = self._interval(capture)
        due = time.monotonic()
        frames = bad_in_row = 0
        while not self._stop.is_set():
            if not capture.grab():
                return self._why_ended(frames)
            now, at = time.monotonic(), utcnow()
            if self.source.live and interval and now < due:
                self.stats.skipped += 1
                continue
            try:
                image = _checked_image(*capture.retrieve())
            except Exception as error:  # a bad frame, whatever OpenCV raised
                bad_in_row += 1
                self._bad_frame(error)
                if bad_in_row >= MAX_BAD_FRAMES_IN_ROW:
                    self.stats.reconnects += 1
                    return f"{bad_in_row} bad frames in a row from {self._shown_source}; reopening"
                continue
            bad_in_row = 0
            frames += 1
            self._post(image, at)
            self._good_frame()
            if interval:
                due = max(due + interval, now)
                if not self.source.live:
                    self._stop.wait(max(0.0, due - time.monotonic()))  # play a file in time
        return None

    def _interval(self, capture: Capture) -> float:
        if self.config.fps_limit:
            return 1.0 / self.config.fps_limit
        if self.source.live:
            return 0.0
        fps = capture.get(cv2.CAP_PROP_FPS)
        return 1.0 / fps if 0.0 < fps < 1000.0 else 0.0

    def _bad_frame(self, error: Exception) -> None:
        if isinstance(error, CorruptFrameError):
            self.stats.corrupt += 1
            log.warning("camera.corrupt_frame", extra={"device": self.device_id, "why": str(error)})
        else:
            self.stats.errors += 1
            log.exception("camera.frame_error", extra={"device": self.device_id})
        self._good_in_row = 0
        if self.health == Health.CONNECTED:
            self._set_health(Health.DEGRADED, f"bad frame: {error}")

    def _good_frame(self) -> None:
        self._good_in_row += 1
        self.backoff.reset()
        if self.health == Health.DISCONNECTED:
            self._set_health(Health.CONNECTED, f"frames from {self._shown_source}")
        elif self.health == Health.DEGRADED and self._good_in_row >= GOOD_FRAMES_TO_RECOVER:
            self._set_health(Health.CONNECTED, f"{self._good_in_row} good frames in a row")

    def _why_ended(self, frames: int) -> str | None:
        if self.source.kind == "file" and frames and self.config.loop:
            return None
        if frames:
            self.stats.reconnects += 1
        if self.source.kind == "file":
            return f"{self._shown_source}: " + ("end of file" if frames else "no frames in file")
        wait = self.config.read_timeout_s
        return f"{self._shown_source}: stream ended, or no frame within {wait:g} s"

    def _why_not_open(self) -> str:
        target = self._shown_source
        if self.source.kind == "file":
            if "%" not in target and not Path(target).exists():
                return f"{target}: no such file"
            return f"{target}: OpenCV cannot read it as video (not a video, or a codec it lacks)"
        if self.source.kind == "device":
            return f"camera {target}: cannot open it (not present, busy, or no permission)"
        wait = self.config.open_timeout_s
        return f"{target}: cannot open the stream (refused, no answer in {wait:g} s, or not video)"

    @property
    def _shown_source(self) -> str:
        return redact(str(self.source.target))

    def _set_health(self, health: Health, why: str) -> None:
        if health == self.health and self._reported:
            return
        self.health, self._reported = health, True
        log.info(
            "camera.health", extra={"device": self.device_id, "health": health.value, "why": why}
        )
        if self.on_health:
            try:
                self.on_health(self.device_id, health, why)
            except Exception:  # the listener's bug is not the camera's
                log.exception("camera.health_callback_failed", extra={"device": self.device_id})


class CorruptFrameError(ValueError):
    """A frame that is not an 8-bit image OpenCV could decode."""


def _checked_image(ok: bool, image: cv2.typing.MatLike | None) -> Image:
    """The frame as 8-bit BGR; grey and BGRA frames are converted, anything else is corrupt."""
    if not ok or image is None:
        raise CorruptFrameError("the decoder returned no image")
    array = np.asarray(image)
    if array.dtype != np.uint8 or array.size == 0:
        raise CorruptFrameError(f"not an 8-bit image: {array.dtype}, shape {array.shape}")
    if array.ndim == 2 or (array.ndim == 3 and array.shape[2] == 1):
        array = cv2.cvtColor(array, cv2.COLOR_GRAY2BGR)
    elif array.ndim == 3 and array.shape[2] == 4:
        array = cv2.cvtColor(array, cv2.COLOR_BGRA2BGR)
    elif array.ndim != 3 or array.shape[2] != 3:
        raise CorruptFrameError(f"not a colour image: shape {array.shape}")
    return np.asarray(array, dtype=np.uint8)


def redact(source: str) -> str:
    """The source with any password in its URL hidden, for logs and health reasons."""
    if "://" not in source:
        return source
    parts = urlsplit(source)
    if parts.password is None:
        return source
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


_FFMPEG_OPTIONS = "OPENCV_FFMPEG_CAPTURE_OPTIONS"
_ENV_LOCK = threading.Lock()


def open_video_capture(source: Source, config: CameraConfig) -> Capture:
    """cv2.VideoCapture on the source, with network timeouts so a dead camera cannot hang the
    capture thread."""
    if source.kind == "device":
        return cv2.VideoCapture(source.target, cv2.CAP_V4L2 if os.name == "posix" else cv2.CAP_ANY)
    if source.kind == "file":
        return cv2.VideoCapture(str(source.target), cv2.CAP_ANY)
    params = [
        cv2.CAP_PROP_OPEN_TIMEOUT_MSEC,
        round(config.open_timeout_s * 1000),
        cv2.CAP_PROP_READ_TIMEOUT_MSEC,
        round(config.read_timeout_s * 1000),
    ]
    url = str(source.target)
    if not url.lower().startswith(("rtsp://", "rtsps://")):
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)
    with _ffmpeg_options(f"rtsp_transport;{config.rtsp_transport}"):
        return cv2.VideoCapture(url, cv2.CAP_FFMPEG, params)


@contextmanager
def _ffmpeg_options(options: str) -> Iterator[None]:
    """OpenCV reads FFmpeg's options from the environment at each open; set them for this one
    unless the operator has set them for the whole process."""
    with _ENV_LOCK:
        if _FFMPEG_OPTIONS in os.environ:
            yield
            return
        os.environ[_FFMPEG_OPTIONS] = options
        try:
            yield
        finally:
            del os.environ[_FFMPEG_OPTIONS]
