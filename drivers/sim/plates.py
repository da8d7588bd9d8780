"""Synthetic licence plates for the camera simulator, the tests, the demo and the recogniser's
training: plates on truck scenes (`render_scene`), single-line crops with their labels
(`training_crop`), and datasets in the common ALPR benchmark format (`write_dataset`).

The flat plate is drawn by `drivers.sim.plate_render` (`render_plate`), what the road and the
camera do to it by `drivers.sim.plate_degrade` (`degrade`), the truck by `drivers.sim.truck`."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from pathlib import Path
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.dataset import Annotation, read_annotation
from drivers.sim.camera import Quad, Size, road
from drivers.sim.plate_degrade import capture, degrade, soil, warp
from drivers.sim.plate_glyphs import BGR
from drivers.sim.plate_render import (
    PLATE_CHARSET,
    PlateLine,
    draw_plate,
    plate_label,
    render_plate,
)
from drivers.sim.truck import (
    CAB_COLOURS,
    PLATE_SPOTS,
    TRAILER_COLOURS,
    View,
    draw_front,
    draw_rear,
    paint_livery,
)
from edge.plate_formats import (
    FORMATS,
    VISITOR_FORMATS,
    PlateFormat,
    formats_for,
    visitor_formats_for,
)

__all__ = [
    "DATASET_JPEG_QUALITY",
    "PLATE_CHARSET",
    "Annotation",
    "degrade",
    "plate_label",
    "read_annotation",
    "render_plate",
    "render_scene",
    "training_crop",
    "write_dataset",
]

Grey: TypeAlias = npt.NDArray[np.uint8]

DATASET_JPEG_QUALITY = 92  # the labelled sets' frames, about what a lane camera sends


# -- crops for the recogniser ------------------------------------------------------------------


def training_crop(
    rng: random.Random,
    *,
    height: int = 32,
    formats: Sequence[PlateFormat] | None = None,
    strength: float | None = None,
    two_line: bool | None = None,
) -> tuple[Grey, str]:
    """A grey crop `height` pixels tall of one plate line, as a detector would hand it over:
    cropped a little loose or a little tight, not quite square, soiled and through a camera;
    and its label (`plate_label`: no separators, Cyrillic look-alikes in Latin). A two-line
    plate becomes one line, top then bottom, side by side. `strength` (0 clean to 1 hard) is
    drawn for each crop when None; `two_line` as in `render_plate`. The country is drawn
    evenly, then one of its formats."""
    fmt = _pick_format(rng, formats or FORMATS)
    text = fmt.random_plate(rng)
    hardness = rng.uniform(0.0, 1.0) if strength is None else strength
    scale = height * rng.uniform(0.7, 1.8) / 100  # sources sharper and blurrier than the crop
    plate = draw_plate(text, fmt, rng, two_line=two_line, px_per_mm=scale)
    image = soil(plate.image, rng, hardness)
    if len(plate.lines) == 1:
        parts = [_cut_plate(image, rng)]
    else:
        parts = [_cut_line(image, line, rng) for line in plate.lines]
    lines = [_fit_height(warp(part, rng, hardness * 0.3)[0], height) for part in parts]
    crop = capture(np.hstack(lines), rng, hardness)
    grey = np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), dtype=np.uint8)
    return grey, plate_label(text)


def _pick_format(rng: random.Random, formats: Sequence[PlateFormat]) -> PlateFormat:
    countries = sorted({fmt.country for fmt in formats})
    country = rng.choice(countries)
    return rng.choice([fmt for fmt in formats if fmt.country == country])


def _cut_plate(image: BGR, rng: random.Random) -> BGR:
    """The whole plate with a margin of what is around it, or cut a little short."""
    height = image.shape[0]
    pad = round(height * 0.15)
    surround = tuple(rng.randrange(256) for _ in range(3))
    framed = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_CONSTANT, value=surround)
    top, bottom = (pad + round(height * rng.uniform(-0.12, 0.04)) for _ in range(2))
    left, right = (pad + round(height * rng.uniform(-0.15, 0.05)) for _ in range(2))
    rows, cols = framed.shape[:2]
    return np.asarray(framed[top : rows - bottom, left : cols - right], dtype=np.uint8)


def _cut_line(image: BGR, line: PlateLine, rng: random.Random) -> BGR:
    """One line of a square plate, across the plate's width, with a jittered margin."""
    rows, cols = image.shape[:2]
    span = line.bottom - line.top
    top = max(0, line.top - round(span * rng.uniform(0.0, 0.2)))
    bottom = min(rows, line.bottom + round(span * rng.uniform(0.0, 0.2)))
    left = round(cols * rng.uniform(0.0, 0.015))
    right = cols - round(cols * rng.uniform(0.0, 0.015))
    return image[top:bottom, left:right]


def _fit_height(image: BGR, height: int) -> BGR:
    rows, cols = image.shape[:2]
    width = max(1, round(cols * height / rows))
    interpolation = cv2.INTER_AREA if rows > height else cv2.INTER_LINEAR
    return np.asarray(cv2.resize(image, (width, height), interpolation=interpolation), np.uint8)


# -- scenes ------------------------------------------------------------------------------------


def render_scene(
    text: str,
    fmt: PlateFormat,
    rng: random.Random,
    size: Size = (1280, 720),
    *,
    strength: float = 0.5,
    two_line: bool | None = None,
) -> tuple[BGR, Quad]:
    """A lane camera's frame (BGR) of a truck, front or rear, with the plate `text` on it, and
    the plate's corners in the frame (top left, top right, bottom right, bottom left). The
    plate is 110 to 300 pixels wide in a 1280-wide frame, in proportion in others; the truck
    carries other writing too. `strength` (0 clean to 1 hard) sets dirt, blur, noise and night;
    `two_line` is as in `render_plate`."""
    frame = _backdrop(size, rng)
    plate = soil(draw_plate(text, fmt, rng, two_line=two_line).image, rng, strength)
    plate_w = rng.uniform(110, 300) * size[0] / 1280
    view: View = "rear" if fmt.kind == "trailer" else rng.choice(("front", "rear"))
    centre = _place_truck(frame, view, plate_w, rng)
    aspect = plate.shape[0] / plate.shape[1]
    quad = _plate_quad(centre, plate_w, aspect, rng, strength)
    where = paste_plate(frame, plate, quad)
    night = rng.random() < 0.35 * strength
    if night:
        frame = _infrared_night(frame, where, rng)
    return capture(frame, rng, strength, night=night), quad


def _backdrop(size: Size, rng: random.Random) -> BGR:
    """The lane camera's empty road, lit a little differently each time."""
    light = rng.uniform(0.7, 1.2)
    gains = np.diag([light * rng.uniform(0.94, 1.06) for _ in range(3)]).astype(np.float32)
    return np.asarray(cv2.transform(road(size), gains), np.uint8)  # per channel, saturated


def _place_truck(frame: BGR, view: View, plate_w: float, rng: random.Random) -> tuple[float, float]:
    """Draw a truck in proportion to its plate, seen from `view`, with its livery, somewhere
    the plate stays in view; where the plate's centre goes."""
    truck_w = round(plate_w * rng.uniform(3.6, 4.8))
    truck_h = round(truck_w * rng.uniform(0.85, 1.0))
    if view == "front":
        image, mask = draw_front(truck_w, truck_h, rng.choice(CAB_COLOURS))
    else:
        image, mask = draw_rear(truck_w, truck_h, rng.choice(TRAILER_COLOURS))
    paint_livery(image, view, rng)
    spot_x, spot_y, play = rng.choice(PLATE_SPOTS[view])
    spot_x += rng.uniform(-play, play)
    frame_h, frame_w = frame.shape[:2]
    margin = plate_w * 0.7
    want_x = min(max(frame_w * rng.uniform(0.2, 0.8), margin), frame_w - margin)
    want_y = frame_h * rng.uniform(0.45, 0.88)
    left, top = round(want_x - spot_x * truck_w), round(want_y - spot_y * truck_h)
    _paste(frame, image, mask > 0, left, top)
    return left + spot_x * truck_w, top + spot_y * truck_h


def _paste(frame: BGR, image: BGR, where: npt.NDArray[np.bool_], left: int, top: int) -> None:
    """Copy the `where` pixels of `image` into `frame` at (left, top), clipped to the frame."""
    rows, cols = frame.shape[:2]
    y0, y1 = max(top, 0), min(top + image.shape[0], rows)
    x0, x1 = max(left, 0), min(left + image.shape[1], cols)
    if y0 >= y1 or x0 >= x1:
        return
    inside = where[y0 - top : y1 - top, x0 - left : x1 - left, None]
    np.copyto(frame[y0:y1, x0:x1], image[y0 - top : y1 - top, x0 - left : x1 - left], where=inside)


def _plate_quad(
    centre: tuple[float, float], width: float, aspect: float, rng: random.Random, strength: float
) -> Quad:
    """A plate `width` wide turned a little away (one side taller), seen from above (the top
    edge shorter) and tilted, centred on `centre`."""
    half_w, half_h = width / 2, width * aspect / 2
    amount = 0.3 + 0.7 * strength
    yaw = rng.uniform(-0.12, 0.12) * amount
    inset = rng.uniform(0.0, 0.06) * amount * half_w
    corners = np.array(
        [
            [-half_w + inset, -half_h * (1 + yaw)],
            [half_w - inset, -half_h * (1 - yaw)],
            [half_w, half_h * (1 - yaw)],
            [-half_w, half_h * (1 + yaw)],
        ],
        np.float32,
    )
    roll = math.radians(rng.uniform(-4, 4) * amount)
    turn = np.array([[math.cos(roll), -math.sin(roll)], [math.sin(roll), math.cos(roll)]])
    return np.asarray(corners @ turn.T + np.array(centre), np.float32)


def paste_plate(frame: BGR, plate: BGR, quad: Quad) -> npt.NDArray[np.bool_]:
    """Warp the flat plate onto `quad` of the frame with soft edges; where it now is (nowhere
    when the quad lies outside the frame)."""
    rows, cols = frame.shape[:2]
    x0, y0 = np.maximum(np.floor(quad.min(axis=0)).astype(int), 0)
    x1, y1 = np.minimum(np.ceil(quad.max(axis=0)).astype(int) + 1, (cols, rows))
    if x1 <= x0 or y1 <= y0:
        return np.zeros((rows, cols), bool)
    # Shrink by area first: a straight warp from 520 pixels down to 110 would alias.
    target_w = float(np.linalg.norm(quad[1] - quad[0]))
    scale = min(1.0, 1.25 * target_w / plate.shape[1])
    small = cv2.resize(plate, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    height, width = small.shape[:2]
    flat = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    matrix = cv2.getPerspectiveTransform(flat, quad - np.array([x0, y0], np.float32))
    size = (int(x1 - x0), int(y1 - y0))
    warped = cv2.warpPerspective(small, matrix, size, flags=cv2.INTER_LINEAR)
    cover = cv2.warpPerspective(np.full((height, width), 255, np.uint8), matrix, size)
    alpha = cover[..., None].astype(np.float32) / 255
    region = frame[y0:y1, x0:x1]
    region[...] = (region * (1 - alpha) + warped * alpha).astype(np.uint8)
    where = np.zeros((rows, cols), bool)
    where[y0:y1, x0:x1] = cover > 127
    return where


def _infrared_night(frame: BGR, plate: npt.NDArray[np.bool_], rng: random.Random) -> BGR:
    """Night under the camera's IR lamp: a dark grey scene, the retroreflective plate bright,
    and the glare of the truck's lights."""
    grey = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float32)
    lit = grey * rng.uniform(0.2, 0.45)
    lit[plate] = grey[plate] * rng.uniform(1.0, 1.25) + rng.uniform(0, 30)
    rows, cols = grey.shape
    glare = np.zeros((rows // 4, cols // 4), np.float32)
    for _ in range(rng.randint(1, 3)):
        centre = (rng.randrange(cols // 4), rng.randrange(rows // 4))
        cv2.circle(glare, centre, rng.randint(2, max(3, cols // 80)), rng.uniform(150, 255), -1)
    glare = cv2.GaussianBlur(glare, (0, 0), max(1.0, cols / 200))
    lit += cv2.resize(glare, (cols, rows), interpolation=cv2.INTER_LINEAR)
    night = np.clip(lit, 0, 255).astype(np.uint8)
    return np.asarray(cv2.cvtColor(night, cv2.COLOR_GRAY2BGR), np.uint8)


# -- datasets ----------------------------------------------------------------------------------


def plate_as_written(text: str) -> str:
    """The plate for a benchmark file: its characters in their own script, no separators."""
    return "".join(ch for ch in text if ch.isalnum())


def bounding_box(quad: Quad, size: Size) -> tuple[int, int, int, int]:
    """(x, y, width, height) in whole pixels around `quad`, within the frame."""
    x0, y0 = np.maximum(np.floor(quad.min(axis=0)), 0).astype(int)
    x1, y1 = np.minimum(np.ceil(quad.max(axis=0)), size).astype(int)
    return int(x0), int(y0), int(x1 - x0), int(y1 - y0)


def write_dataset(
    out_dir: str | Path, country: str, count: int, seed: int, *, size: Size = (1280, 720)
) -> list[Path]:
    """Write `count` scenes of the country's plates into `out_dir` in the ALPR benchmark format:
    `NAME.jpg` and beside it `NAME.txt` holding `NAME.jpg<TAB>x<TAB>y<TAB>w<TAB>h<TAB>PLATE`,
    the plate as written (Cyrillic kept). Each sample has its own seed, so sample 7 of seed 1
    is the same whatever the count. `country` is a corridor country or a visitor (TR, DE...:
    `edge.plate_formats.VISITOR_FORMATS`). Returns the images' paths."""
    formats = formats_for(country) or visitor_formats_for(country)
    if not formats:
        known = ", ".join(sorted({fmt.country for fmt in FORMATS}))
        visitors = ", ".join(sorted({fmt.country for fmt in VISITOR_FORMATS}))
        raise ValueError(
            f"country {country!r}: no plate formats; use one of {known} or a visitor: {visitors}"
        )
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(count):
        rng = random.Random(f"{seed}:{country.upper()}:{index}")
        fmt = rng.choice(formats)
        text = fmt.random_plate(rng)
        frame, quad = render_scene(text, fmt, rng, size, strength=rng.uniform(0.0, 0.8))
        name = f"{country.lower()}-{seed}-{index:05d}"
        image = out / f"{name}.jpg"
        if not cv2.imwrite(str(image), frame, [cv2.IMWRITE_JPEG_QUALITY, DATASET_JPEG_QUALITY]):
            raise OSError(f"{image}: OpenCV could not write it")
        box = "\t".join(str(v) for v in bounding_box(quad, size))
        line = f"{image.name}\t{box}\t{plate_as_written(text)}\n"
        (out / f"{name}.txt").write_text(line, encoding="utf-8")
        paths.append(image)
    return paths
