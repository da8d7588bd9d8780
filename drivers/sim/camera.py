"""A simulated lane camera: frames of an empty road and of trucks with a given plate driving in,
stopping at the booth and driving on, written as a video file or served as an HTTP MJPEG stream
that `drivers.camera.Camera` opens as it opens a real camera.

A truck's pass is a position `t` in [0, 1]: it drives in from the top of the view until
`STOP_FROM`, stands at the booth until `STOP_UNTIL`, and drives out of the bottom by 1. At 0 and
at 1 no part of it is in view."""

from __future__ import annotations

import contextlib
import functools
import socket
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from drivers.sim.truck import CAB_COLOURS, draw_front

BGR: TypeAlias = npt.NDArray[np.uint8]
Size: TypeAlias = tuple[int, int]  # width, height, as OpenCV counts them
Quad: TypeAlias = npt.NDArray[np.float32]  # four corners, (x, y) each
LaneStep: TypeAlias = tuple[str, float] | None  # (plate, t) with a truck in view, None without

FONT_PATH = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf")
STOP_FROM, STOP_UNTIL = 0.3, 0.7
PLATE_PX = (520, 112)  # a 520 x 112 mm plate, one pixel a millimetre, before it is warped
_TRUCK_W, _TRUCK_H = 0.56, 0.9  # the truck at the booth, as fractions of the frame
_STOP_BOTTOM = 0.97
_FOURCC = {".avi": "MJPG", ".mp4": "mp4v"}


# -- the plate ---------------------------------------------------------------------------------


@functools.cache
def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(FONT_PATH), size)


@functools.cache
def _notdef_mask() -> bytes:
    return bytes(_font(48).getmask("\U000f0000"))  # a private-use code point: the font's box


def missing_glyphs(text: str) -> str:
    """The characters of `text` that DejaVu Sans Bold has no glyph for (it would draw a box)."""
    notdef = _notdef_mask()
    return "".join(
        ch
        for ch in dict.fromkeys(text)
        if not ch.isspace() and bytes(_font(48).getmask(ch)) == notdef
    )


def render_plate(text: str, *, country: str | None = None) -> BGR:
    """A flat plate: white, black text in DejaVu Sans Bold, a thin border, and an optional
    country strip (blue, the code in white) on the left; `PLATE_PX` in size."""
    missing = missing_glyphs(text + (country or ""))
    if missing:
        raise ValueError(f"plate {text!r}: no glyph for {missing!r} in {FONT_PATH.name}")
    width, height = PLATE_PX
    plate = Image.new("RGB", PLATE_PX, "white")
    draw = ImageDraw.Draw(plate)
    left = 8
    if country:
        strip = height * 5 // 8
        draw.rectangle((0, 0, strip, height), fill=(0, 57, 166))
        code = _fit(draw, country, strip - 12, height // 3)
        draw.text((strip // 2, height * 3 // 4), country, font=code, fill="white", anchor="mm")
        left = strip + 8
    font = _fit(draw, text, width - left - 12, height * 3 // 4)
    draw.text(((left + width) // 2, height // 2), text, font=font, fill="black", anchor="mm")
    draw.rectangle((0, 0, width - 1, height - 1), outline="black", width=4)
    return _u8(cv2.cvtColor(np.asarray(plate), cv2.COLOR_RGB2BGR))


def _u8(image: cv2.typing.MatLike) -> BGR:
    return np.asarray(image, dtype=np.uint8)


def _fit(draw: ImageDraw.ImageDraw, text: str, width: int, height: int) -> ImageFont.FreeTypeFont:
    size = height
    while size > 8:
        left, top, right, bottom = draw.textbbox((0, 0), text, font=_font(size), anchor="mm")
        if right - left <= width and bottom - top <= height:
            break
        size -= 2
    return _font(size)


# -- the truck ---------------------------------------------------------------------------------


@functools.cache
def _truck(plate_text: str, country: str | None, size: Size) -> tuple[BGR, npt.NDArray[np.bool_]]:
    """A truck seen from the front, as it stands at the booth: its image and where it is."""
    width, height = _truck_size(size)
    seed = zlib.crc32(plate_text.encode())
    image, mask = draw_front(width, height, CAB_COLOURS[seed % len(CAB_COLOURS)])
    _warp_plate(image, render_plate(plate_text, country=country), _quad_on_truck(plate_text, size))
    where = mask > 0
    image.flags.writeable = where.flags.writeable = False  # shared by every frame of the truck
    return image, where


def _truck_size(size: Size) -> tuple[int, int]:
    return round(size[0] * _TRUCK_W), round(size[1] * _TRUCK_H)


def _quad_on_truck(plate_text: str, size: Size) -> Quad:
    """Where the plate sits on the bumper, with a slight perspective (the camera looks down at
    it) and a tilt of its own for each plate."""
    width, height = _truck_size(size)
    half_w = size[0] * 0.1
    half_h = half_w * PLATE_PX[1] / PLATE_PX[0]
    cx, cy = width / 2, height * 0.865
    inset = half_w * 0.04  # the top edge is further away, so a little shorter
    square = [
        [cx - half_w + inset, cy - half_h],
        [cx + half_w - inset, cy - half_h],
        [cx + half_w, cy + half_h],
        [cx - half_w, cy + half_h],
    ]
    tilt = np.random.default_rng(zlib.crc32(plate_text.encode())).uniform(-0.06, 0.06, (4, 2))
    return np.array(square, dtype=np.float32) + (tilt * half_h).astype(np.float32)


def _warp_plate(truck: BGR, plate: BGR, quad: Quad) -> None:
    height, width = truck.shape[:2]
    corners = [[0, 0], [PLATE_PX[0], 0], [PLATE_PX[0], PLATE_PX[1]], [0, PLATE_PX[1]]]
    matrix = cv2.getPerspectiveTransform(np.array(corners, dtype=np.float32), quad)
    warped = cv2.warpPerspective(plate, matrix, (width, height), flags=cv2.INTER_AREA)
    where = cv2.warpPerspective(np.full(plate.shape[:2], 255, np.uint8), matrix, (width, height))
    truck[where > 127] = warped[where > 127]


def plate_quad(plate_text: str, *, t: float, size: Size = (1280, 720)) -> Quad:
    """The plate's corners in the frame at `t` (top left, top right, bottom right, bottom left):
    where recognition should find it."""
    left, top, width, height = _truck_box(t, size)
    truck_w, truck_h = _truck_size(size)
    scale = np.array([width / truck_w, height / truck_h], dtype=np.float32)
    return _quad_on_truck(plate_text, size) * scale + np.array([left, top], dtype=np.float32)


def _truck_box(t: float, size: Size) -> tuple[int, int, int, int]:
    """(left, top, width, height) of the truck in the frame at `t` of its pass; partly or wholly
    outside the frame while it drives in and out."""
    frame_w, frame_h = size
    truck_w, truck_h = _truck_size(size)
    stop_bottom = _STOP_BOTTOM * frame_h
    if t < STOP_FROM:
        u = 1 - (1 - t / STOP_FROM) ** 2  # slowing down towards the booth
        scale, bottom = 0.75 + 0.25 * u, stop_bottom * u
    elif t <= STOP_UNTIL:
        scale, bottom = 1.0, stop_bottom
    else:
        u = ((t - STOP_UNTIL) / (1 - STOP_UNTIL)) ** 2  # pulling away
        scale = 1.0 + 0.35 * u
        top_at_stop = stop_bottom - truck_h
        bottom = top_at_stop + (frame_h - top_at_stop) * u + truck_h * scale
    width, height = round(truck_w * scale), round(truck_h * scale)
    return (frame_w - width) // 2, round(bottom) - height, width, height


# -- the road and the frame --------------------------------------------------------------------


@functools.cache
def road(size: Size) -> BGR:
    """The empty lane, read-only: asphalt, its edges and the stop line."""
    width, height = size
    rng = np.random.default_rng(7)
    shade = np.linspace(95, 125, height, dtype=np.float32)[:, None]  # nearer asphalt is lighter
    texture = cv2.GaussianBlur(rng.normal(0, 9, (height, width)).astype(np.float32), (0, 0), 2)
    grey = np.clip(shade + texture, 0, 255).astype(np.uint8)
    road = _u8(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR))
    for far, near in ((0.36, 0.12), (0.64, 0.88)):  # the lane's edges, meeting far away
        cv2.line(road, (round(far * width), 0), (round(near * width), height), (225,) * 3, 6)
    stop_y = round(_STOP_BOTTOM * height) - 4
    cv2.line(road, (round(0.14 * width), stop_y), (round(0.86 * width), stop_y), (225,) * 3, 8)
    road.flags.writeable = False
    return road


def render_frame(
    plate_text: str,
    *,
    t: float | None,
    size: Size = (1280, 720),
    rng: np.random.Generator | None = None,
    country: str | None = None,
    noise: float = 3.0,
) -> BGR:
    """One BGR frame of the lane: the empty road when `t` is None, else the truck with the plate
    `plate_text` at `t` of its pass; sensor noise of `noise` grey levels drawn from `rng`."""
    frame = road(size).copy()
    if t is not None:
        if not 0.0 <= t <= 1.0:
            raise ValueError(f"t={t}: a truck's pass runs from 0 to 1")
        _paste_truck(frame, plate_text, country, t, size)
    if noise > 0:
        rng = rng or np.random.default_rng()
        grain = rng.standard_normal((size[1], size[0]), dtype=np.float32)
        grain *= noise
        frame = _u8(cv2.add(frame, cv2.merge([grain, grain, grain]), dtype=cv2.CV_8U))
    return frame


def _paste_truck(frame: BGR, plate_text: str, country: str | None, t: float, size: Size) -> None:
    truck, mask = _truck(plate_text, country, size)
    left, top, width, height = _truck_box(t, size)
    if (width, height) != (truck.shape[1], truck.shape[0]):
        truck = _u8(cv2.resize(truck, (width, height), interpolation=cv2.INTER_LINEAR))
        mask = cv2.resize(mask.astype(np.uint8), (width, height)) > 0
    y0, y1 = max(top, 0), min(top + height, size[1])
    x0, x1 = max(left, 0), min(left + width, size[0])
    if y0 >= y1 or x0 >= x1:
        return  # wholly out of view
    inside = mask[y0 - top : y1 - top, x0 - left : x1 - left, None]
    np.copyto(frame[y0:y1, x0:x1], truck[y0 - top : y1 - top, x0 - left : x1 - left], where=inside)


# -- sequences, files and streams --------------------------------------------------------------


def lane_sequence(
    plate_texts: Sequence[str], *, fps: float, seconds_per_truck: float, gap_seconds: float = 1.0
) -> list[LaneStep]:
    """What each frame shows: empty road for `gap_seconds`, then each truck's pass, each
    followed by empty road again."""
    gap = [None] * round(gap_seconds * fps)
    frames_per_truck = max(2, round(seconds_per_truck * fps))
    steps: list[LaneStep] = list(gap)
    for text in plate_texts:
        steps += [(text, i / (frames_per_truck - 1)) for i in range(frames_per_truck)]
        steps += gap
    return steps


def render_sequence(
    steps: Sequence[LaneStep],
    *,
    size: Size = (1280, 720),
    country: str | None = None,
    seed: int = 0,
) -> Iterator[BGR]:
    """The frames of `steps`, one at a time (a minute of 720p is 4 GB held at once)."""
    rng = np.random.default_rng(seed)
    for step in steps:
        plate, t = step if step is not None else ("", None)
        yield render_frame(plate, t=t, size=size, rng=rng, country=country)


def write_video(
    path: str | Path,
    plate_texts: Sequence[str],
    *,
    fps: float = 10.0,
    seconds_per_truck: float = 4.0,
    gap_seconds: float = 1.0,
    size: Size = (1280, 720),
    country: str | None = None,
    seed: int = 0,
) -> Path:
    """A video of the lane (MJPG in .avi, MPEG-4 part 2 in .mp4) with one pass per plate."""
    path = Path(path)
    fourcc = _FOURCC.get(path.suffix.lower())
    if fourcc is None:
        raise ValueError(f"{path}: write .avi or .mp4, not {path.suffix or 'no suffix'}")
    steps = lane_sequence(
        plate_texts, fps=fps, seconds_per_truck=seconds_per_truck, gap_seconds=gap_seconds
    )
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
    if not writer.isOpened():
        raise OSError(f"{path}: OpenCV cannot write {fourcc} video here")
    try:
        for frame in render_sequence(steps, size=size, country=country, seed=seed):
            writer.write(frame)
    finally:
        writer.release()
    return path


class MjpegServer:
    """Frames served over HTTP as multipart/x-mixed-replace JPEGs, as IP cameras do. Every
    client gets `frame(0)`, `frame(1)`, ... at `fps`: a fixed list of JPEGs loops, a callable
    (a live lane) says what the camera sees now."""

    def __init__(
        self,
        frames: Sequence[bytes] | Callable[[int], bytes],
        host: str,
        port: int,
        fps: float,
        *,
        path: str = "/stream.mjpg",
        name: str = "mjpeg",
    ) -> None:
        if callable(frames):
            self.frame = frames
        else:
            jpegs = list(frames)
            self.frame = lambda index: jpegs[index % len(jpegs)]
        self.interval_s = 1.0 / fps
        self._stopping = threading.Event()
        self._clients: set[socket.socket] = set()
        self._lock = threading.Lock()
        self._httpd = ThreadingHTTPServer((host, port), _handler(self))
        self._httpd.daemon_threads = True
        self.host, self.port = host, int(self._httpd.server_address[1])
        self.url = f"http://{host}:{self.port}{path}"
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, name=f"{name}-{self.port}", daemon=True
        )
        self._thread.start()

    def stop(self) -> None:
        """Stop serving and cut every client off, as a camera that reboots does."""
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

    def __enter__(self) -> MjpegServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _handler(server: MjpegServer) -> type[BaseHTTPRequestHandler]:
    class MjpegHandler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # the name http.server calls
            self.send_response(200)
            self.send_header("Content-Type", "multipart/x-mixed-replace; boundary=frame")
            self.send_header("Cache-Control", "no-cache")
            self.end_headers()
            with server._lock:
                server._clients.add(self.connection)
            try:
                index = 0
                while not server._stopping.wait(server.interval_s if index else 0):
                    jpeg = server.frame(index)
                    head = f"--frame\r\nContent-Type: image/jpeg\r\nContent-Length: {len(jpeg)}"
                    self.wfile.write(head.encode() + b"\r\n\r\n" + jpeg + b"\r\n")
                    index += 1
            except OSError:
                pass  # the client went away, or the server cut it off
            finally:
                with server._lock:
                    server._clients.discard(self.connection)

        def log_message(self, format: str, *args: object) -> None:
            pass

    return MjpegHandler


def serve_mjpeg(
    frames: Sequence[BGR], host: str = "127.0.0.1", port: int = 0, *, fps: float = 10.0
) -> MjpegServer:
    """Serve `frames` as an MJPEG stream at `.url` until `.stop()`; port 0 picks a free one."""
    if not frames:
        raise ValueError("an MJPEG stream needs at least one frame")
    jpegs = []
    for frame in frames:
        ok, encoded = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 90])
        if not ok:
            raise ValueError("a frame OpenCV cannot encode as JPEG")
        jpegs.append(encoded.tobytes())
    return MjpegServer(jpegs, host, port, fps)
