"""A live lane camera for the demo and the tests: an HTTP MJPEG stream of the empty road, on
which a truck stands from `arrive()` until `depart()`, as an IP camera at a booth would show it.

`drivers.camera.Camera` opens `.url` as it opens a real camera, so the trucks go through the
box's whole camera path (presence trigger, plate worker, voting, lane, matcher). A truck is a
lane scene of `drivers.sim.plates.render_scene` (its plate in the format's own design, with dirt,
blur or night light); while it stands, frames cycle through a few copies with fresh sensor
noise, so the vote sees frames that differ as a camera's do."""

from __future__ import annotations

import contextlib
import random
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import cv2
import numpy as np

from drivers.sim.camera import BGR, Size, road
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
        self.interval_s = 1.0 / fps
        self._noise = np.random.default_rng(seed)
        self._empty = [_jpeg(road(size))]
        self._showing = self._empty
        self.plate: str | None = None  # the plate of the truck standing in view
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self.host, self.port = host, int(self._httpd.server_address[1])
        self.url = f"http://{host}:{self.port}/lane.mjpg"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"live-lane-{self.port}", daemon=True
        )
        self._thread.start()

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
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        with self._lock:
            for client in self._clients:
                with contextlib.suppress(OSError):  # already gone
                    client.shutdown(socket.SHUT_RDWR)
        self._thread.join()

    def __enter__(self) -> LiveLane:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(lane: LiveLane) -> type[BaseHTTPRequestHandler]:
    class LaneHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            with lane._lock:
                lane._clients.add(self.connection)
            try:
                index = 0
                while not lane._stopping.wait(lane.interval_s if index else 0):
                    jpeg = lane.frame(index)
                    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                    self.wfile.write(head.encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                    index += 1
            except OSError:
                pass  # the client went away, or the lane stopped
            finally:
                with lane._lock:
                    lane._clients.discard(self.connection)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return LaneHandler
