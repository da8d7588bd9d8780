"""What a real lane camera does to a plate crop, for training the reader: a video codec's
blocks and smear (H.264/H.265 at a lane camera's bitrates), motion blur, defocus, a plate only
12-20 pixels high blown up again, infrared night, glare, dirt, skew and sensor noise.

`degrade(crop, rng)` draws a few of the cheap ones for each crop (fast enough to run on every
training pass). The codec is too slow to run per crop, so `codec_pool(crops, rng)` compresses
many crops at once: they are tiled into frames of a short clip, encoded with PyAV's libx264 or
libx265 at a bitrate a 1080p camera stream would give that many pixels, decoded, and cut out
again. PyAV is only needed for `codec_pool` (the `train` extra)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from fractions import Fraction
from typing import Any, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

Image: TypeAlias = npt.NDArray[np.uint8]  # grey (h, w) or BGR (h, w, 3)
Rng: TypeAlias = np.random.Generator

# Bits a pixel a frame: a 1080p camera at 2-8 Mbit/s and 25 frames a second gives 0.04-0.15;
# the low end is a cheap camera or a busy scene, where the plate's strokes smear first.
BITS_PER_PIXEL = (0.02, 0.15)
CODECS = ("libx264", "libx265")
TILE = (640, 368)  # the clip's frame: multiples of 16, many crops a frame
CLIP_FRAMES = 4  # the crop is read from the last frame: a P frame, coded on a moving scene


def motion_blur(image: Image, rng: Rng) -> Image:
    """A vehicle moving during the exposure: a line kernel 3-9 px long, mostly horizontal."""
    length = int(rng.integers(3, 10))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1.0
    angle = float(rng.normal(0, 20))
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), angle, 1.0)
    kernel = np.asarray(cv2.warpAffine(kernel, turn, (length, length)), np.float32)
    kernel /= max(float(kernel.sum()), 1e-6)
    return np.asarray(cv2.filter2D(image, -1, kernel), np.uint8)


def defocus(image: Image, rng: Rng) -> Image:
    """A lens focused on the lane, not the plate: a disk kernel of radius 1-2.5 px."""
    radius = float(rng.uniform(1.0, 2.5))
    size = 2 * int(np.ceil(radius)) + 1
    kernel = np.zeros((size, size), np.float32)
    centre = size // 2
    cv2.circle(kernel, (centre, centre), max(1, round(radius)), 1.0, -1, cv2.LINE_AA)
    kernel /= float(kernel.sum())
    return np.asarray(cv2.filter2D(image, -1, kernel), np.uint8)


def low_resolution(image: Image, rng: Rng) -> Image:
    """A plate 12-20 px high in the frame, scaled back up to the crop's size by the pipeline."""
    rows, cols = image.shape[:2]
    target = float(rng.uniform(12, 20))
    if rows <= target:
        return image
    scale = target / rows
    small = cv2.resize(
        image,
        (max(4, round(cols * scale)), max(4, round(rows * scale))),
        interpolation=cv2.INTER_AREA,
    )
    up = cv2.INTER_LINEAR if rng.random() < 0.7 else cv2.INTER_CUBIC
    return np.asarray(cv2.resize(small, (cols, rows), interpolation=up), np.uint8)


def infrared_night(image: Image, rng: Rng) -> Image:
    """Under the camera's IR lamp: grey, the retroreflective plate bright and washed out, the
    strokes low in contrast, the sensor noisy."""
    grey = _grey(image).astype(np.float32)
    low, high = float(rng.uniform(90, 170)), float(rng.uniform(200, 255))
    spread = max(float(grey.max() - grey.min()), 1.0)
    lit = low + (grey - float(grey.min())) * (high - low) / spread
    lit += rng.normal(0, rng.uniform(3, 12), lit.shape)
    return _like(image, np.clip(lit, 0, 255).astype(np.uint8))


def glare(image: Image, rng: Rng) -> Image:
    """Overexposure (a gain that clips the white) and a headlight's or the sun's bright blob."""
    out = image.astype(np.float32) * float(rng.uniform(1.0, 1.8)) + float(rng.uniform(0, 40))
    rows, cols = image.shape[:2]
    if rng.random() < 0.6:
        y, x = np.mgrid[0:rows, 0:cols].astype(np.float32)
        cx, cy = float(rng.uniform(0, cols)), float(rng.uniform(-0.3, 1.3) * rows)
        sigma = float(rng.uniform(0.3, 1.2)) * rows
        blob = np.exp(-((x - cx) ** 2 + (y - cy) ** 2) / (2 * sigma**2)) * rng.uniform(80, 220)
        out += blob if out.ndim == 2 else blob[..., None]
    return np.asarray(np.clip(out, 0, 255), np.uint8)


def dirt(image: Image, rng: Rng) -> Image:
    """Blotches of mud and road spray: soft dark ellipses over part of the plate."""
    rows, cols = image.shape[:2]
    mask = np.zeros((rows, cols), np.float32)
    for _ in range(int(rng.integers(1, 6))):
        centre = (int(rng.integers(cols)), int(rng.integers(rows)))
        axes = (int(rng.integers(2, max(3, cols // 8))), int(rng.integers(2, max(3, rows // 3))))
        angle = float(rng.uniform(0, 180))
        cv2.ellipse(mask, centre, axes, angle, 0, 360, float(rng.uniform(0.3, 0.8)), -1)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), float(rng.uniform(0.8, 2.5))), np.float32)
    mud = float(rng.uniform(40, 110))
    alpha = mask if image.ndim == 2 else mask[..., None]
    out = image.astype(np.float32) * (1 - alpha) + mud * alpha
    return np.clip(out, 0, 255).astype(np.uint8)


def perspective(image: Image, rng: Rng) -> Image:
    """The plate seen from the side and from above: corners moved by up to 8% of the height
    vertically and 4% of the width horizontally, the border replicated."""
    rows, cols = image.shape[:2]
    src = np.array([[0, 0], [cols, 0], [cols, rows], [0, rows]], np.float32)
    shift = np.column_stack(
        [rng.uniform(-0.04, 0.04, 4) * cols, rng.uniform(-0.08, 0.08, 4) * rows]
    ).astype(np.float32)
    matrix = cv2.getPerspectiveTransform(src, src + shift)
    warped = cv2.warpPerspective(
        image, matrix, (cols, rows), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return np.asarray(warped, np.uint8)


def noise(image: Image, rng: Rng) -> Image:
    """Sensor noise: grey-level Gaussian noise of sigma 2-14."""
    out = image.astype(np.float32) + rng.normal(0, rng.uniform(2, 14), image.shape)
    return np.clip(out, 0, 255).astype(np.uint8)


def jpeg(image: Image, rng: Rng) -> Image:
    """A still's or a snapshot's JPEG at quality 15-70: the codec's blocks, without the clip."""
    quality = int(rng.integers(15, 71))
    ok, data = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(data, cv2.IMREAD_UNCHANGED) if ok else None
    return image if decoded is None else np.asarray(decoded, np.uint8)


Degradation: TypeAlias = Callable[[Image, Rng], Image]

# (degradation, probability a crop gets it), in the order a camera applies them: the scene
# (dirt, glare, night), the optics (skew, defocus, motion), the sensor and the encoder.
DEGRADATIONS: tuple[tuple[Degradation, float], ...] = (
    (dirt, 0.15),
    (glare, 0.1),
    (infrared_night, 0.1),
    (perspective, 0.3),
    (defocus, 0.15),
    (motion_blur, 0.15),
    (low_resolution, 0.2),
    (noise, 0.25),
    (jpeg, 0.2),
)


def degrade(image: Image, rng: Rng, strength: float = 1.0) -> Image:
    """The crop through some of DEGRADATIONS, each with its probability times `strength`."""
    for degradation, probability in DEGRADATIONS:
        if rng.random() < probability * strength:
            image = degradation(image, rng)
    return image


def describe() -> str:
    """The degradations and their probabilities, for a model card."""
    parts = [f"{d.__name__.replace('_', ' ')} (p {p})" for d, p in DEGRADATIONS]
    return "; ".join(parts)


# -- the video codec ---------------------------------------------------------------------------


def codec_pool(crops: Sequence[Image], rng: Rng, codec: str | None = None) -> list[Image]:
    """Each grey crop as it comes out of a video stream: crops are packed into frames of a short
    clip that drifts a pixel or two a frame, encoded with `codec` (default: libx264 or libx265,
    drawn a clip) at a camera's bits a pixel, decoded, and the last frame's crops cut out.
    Crops larger than a frame are returned as they are."""
    out: list[Image] = list(crops)
    placements = _pack([c.shape[:2] for c in crops])
    for frame_index in sorted({p[0] for p in placements if p is not None}):
        members = [i for i, p in enumerate(placements) if p is not None and p[0] == frame_index]
        canvas = np.full((TILE[1], TILE[0]), 128, np.uint8)
        for i in members:
            _, y, x = placements[i]  # type: ignore[misc]
            rows, cols = crops[i].shape[:2]
            canvas[y : y + rows, x : x + cols] = _grey(crops[i])
        chosen = codec or str(rng.choice(CODECS))
        bpp = float(rng.uniform(*BITS_PER_PIXEL))
        decoded = _through_codec(canvas, chosen, bpp, rng)
        for i in members:
            _, y, x = placements[i]  # type: ignore[misc]
            rows, cols = crops[i].shape[:2]
            out[i] = _like(crops[i], np.ascontiguousarray(decoded[y : y + rows, x : x + cols]))
    return out


def _pack(shapes: Sequence[tuple[int, ...]]) -> list[tuple[int, int, int] | None]:
    """(frame, y, x) for each crop, shelf by shelf, leaving a 2-pixel drift margin; None for a
    crop too large for a frame."""
    margin = 4
    placements: list[tuple[int, int, int] | None] = []
    frame, x, y, shelf = 0, margin, margin, 0
    for rows, cols in (shape[:2] for shape in shapes):
        if rows + 2 * margin > TILE[1] or cols + 2 * margin > TILE[0]:
            placements.append(None)
            continue
        if x + cols + margin > TILE[0]:
            x, y, shelf = margin, y + shelf + margin, 0
        if y + rows + margin > TILE[1]:
            frame, x, y, shelf = frame + 1, margin, margin, 0
        placements.append((frame, y, x))
        x += cols + margin
        shelf = max(shelf, rows)
    return placements


def _through_codec(canvas: Image, codec: str, bits_per_pixel: float, rng: Rng) -> Image:
    """The canvas as decoded from the last frame of a CLIP_FRAMES clip: the frames before it
    are the canvas shifted by a pixel or two, so the last is predicted from moving content."""
    import av  # only the training extra installs PyAV

    rate = 25
    rows, cols = canvas.shape
    encoder: Any = av.CodecContext.create(codec, "w")  # a VideoCodecContext; the stubs say less
    encoder.width, encoder.height = cols, rows
    encoder.pix_fmt = "yuv420p"
    encoder.time_base = Fraction(1, rate)
    encoder.framerate = Fraction(rate, 1)
    encoder.bit_rate = max(20_000, int(bits_per_pixel * rows * cols * rate))
    # one thread: the training runs on one core, and x265's own thread pool can hang at flush
    encoder.thread_count = 1
    encoder.options = {"preset": "ultrafast", "threads": "1"}
    if codec == "libx265":
        params = "log-level=none:pools=none:frame-threads=1:lookahead-threads=0"
        encoder.options = {"preset": "ultrafast", "x265-params": params}
    shifts = [(int(rng.integers(-2, 3)), int(rng.integers(-2, 3))) for _ in range(CLIP_FRAMES - 1)]
    packets = []
    for index, (dx, dy) in enumerate([*shifts, (0, 0)]):
        moved = np.ascontiguousarray(np.roll(canvas, (dy, dx), axis=(0, 1)))
        frame = av.VideoFrame.from_ndarray(moved, format="gray").reformat(format="yuv420p")
        frame.pts = index
        packets += encoder.encode(frame)
    packets += encoder.encode(None)
    decoder: Any = av.CodecContext.create("h264" if codec == "libx264" else "hevc", "r")
    last: Image | None = None
    for packet in [*packets, None]:
        for decoded in decoder.decode(packet):
            last = decoded.to_ndarray(format="gray")
    return canvas if last is None else np.asarray(last, np.uint8)


def _grey(image: Image) -> Image:
    if image.ndim == 2:
        return image
    return np.asarray(cv2.cvtColor(image, cv2.COLOR_BGR2GRAY), np.uint8)


def _like(reference: Image, grey: Image) -> Image:
    """`grey` in the channels of `reference`."""
    if reference.ndim == 2:
        return grey
    return np.asarray(cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR), np.uint8)
