"""A live lane camera for the demo and the tests: an HTTP MJPEG stream of the empty road, on
which a truck stands from `arrive()` until `depart()`, as an IP camera at a booth would show it.

`drivers.camera.Camera` opens `.url` as it opens a real camera, so the trucks go through the
box's whole camera path (presence trigger, plate worker, voting, lane, matcher). A truck is a
lane scene of `drivers.sim.plates.render_scene` (its plate in the format's own design, with dirt,
blur or night light); while it stands, frames cycle through a few copies with fresh sensor
noise, so the vote sees frames that differ as a camera's do."""

from __future__ import annotations

import random
import threading

import cv2
import numpy as np

from drivers.sim.camera import BGR, MjpegServer, Size, road
from drivers.sim.plates import render_scene
from edge.plate_formats import PlateFormat

NOISY_COPIES = 3
JPEG_QUALITY = 90


def _jpeg(frame: BGR) -> bytes:
    ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise ValueError("a frame OpenCV cannot encode as JPEG")
    return bytes(encoded.tobytes())


class LiveLane:
    """Serves the lane at `fps` to every client until `stop()`; port 0 picks a free one."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        fps: float = 8.0,
        size: Size = (1280, 720),
        seed: int = 0,
    ) -> None:
        self.size = size
        self._noise = np.random.default_rng(seed)
        self._empty = [_jpeg(road(size))]
        self._showing = self._empty
        self.plate: str | None = None  # the plate of the truck standing in view
        self._lock = threading.Lock()
        self._server = MjpegServer(self.frame, host, port, fps, path="/lane.mjpg", name="live-lane")
        self.host, self.port, self.url = host, self._server.port, self._server.url

    def arrive(
        self, plate: str, fmt: PlateFormat, rng: random.Random, *, strength: float = 0.3
    ) -> None:
        """A truck with `plate` (written in `fmt`'s design) drives up and stands in view."""
        scene, _ = render_scene(plate, fmt, rng, self.size, strength=strength)
        copies = []
        for _ in range(NOISY_COPIES):
            grain = self._noise.normal(0.0, 2.0, scene.shape).astype(np.float32)
            noisy = np.clip(scene.astype(np.float32) + grain, 0, 255).astype(np.uint8)
            copies.append(_jpeg(noisy))
        with self._lock:
            self._showing, self.plate = copies, plate

    def depart(self) -> None:
        """The truck drives on: the empty road again."""
        with self._lock:
            self._showing, self.plate = self._empty, None

    def frame(self, index: int) -> bytes:
        with self._lock:
            showing = self._showing
        return showing[index % len(showing)]

    def stop(self) -> None:
        """Stop serving and cut every client off."""
        self._server.stop()

    def __enter__(self) -> LiveLane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
