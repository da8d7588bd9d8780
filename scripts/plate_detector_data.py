"""Training and validation data of the plate detector: scenes (a frame and its plates' quads)
from the real labelled sets' tuning part, from the scene renderer, and made by pasting plate
crops into them; and the augmented square crops with their plate-core targets the network is
trained on."""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.dataset import labelled_images
from drivers.plates.ranking import plate_key
from drivers.plates.seeds import REAL_SETS, SHARED_DATA, real_part
from drivers.sim.plate_degrade import soil
from drivers.sim.plate_render import draw_plate
from drivers.sim.plates import paste_plate, render_scene
from edge.plate_formats import FORMATS, VISITOR_FORMATS

BGR = npt.NDArray[np.uint8]
Quads = npt.NDArray[np.float32]  # (n, 4, 2), corners clockwise from the top-left

CROPS = SHARED_DATA / "plates-real-dev" / "cn-lprnet-crops"
SCENE_FORMATS = FORMATS + VISITOR_FORMATS
STORE_SIDE = 1280  # real frames are kept with their long side at most this
VALIDATION_SHARE = 5  # one tuning plate in five is held back to choose the checkpoint


@dataclass(frozen=True)
class Scene:
    image: bytes  # JPEG: thousands of 1280-wide frames fit in memory
    quads: Quads
    source: str


def held_back(plate: str) -> bool:
    """A tuning frame kept out of training to choose the checkpoint, by its plate."""
    digest = hashlib.sha256(f"plate detector validation:{plate_key(plate)}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % VALIDATION_SHARE == 0


def box_quad(x: float, y: float, w: float, h: float) -> Quads:
    return np.array([[[x, y], [x + w, y], [x + w, y + h], [x, y + h]]], np.float32)


def real_frames(validation: bool) -> dict[str, list[tuple[BGR, Quads]]]:
    """The tuning part's frames of every real set, full size, with the label's box: the
    training share or the held-back share. Sets that are absent give nothing."""
    out: dict[str, list[tuple[BGR, Quads]]] = {}
    for name, folder in REAL_SETS.items():
        if not folder.is_dir():
            continue
        frames = []
        for path, label in labelled_images(folder):
            if real_part(label.plate) != "tune" or held_back(label.plate) != validation:
                continue
            image = cv2.imread(str(path))
            if image is not None:
                quad = box_quad(label.x, label.y, label.width, label.height)
                frames.append((np.asarray(image, np.uint8), quad))
        out[name] = frames
    return out


def encode(image: BGR, quality: int = 95) -> bytes:
    return bytes(cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])[1])


def decode(data: bytes) -> BGR:
    return np.asarray(cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR), np.uint8)


def stored(image: BGR, quads: Quads, source: str) -> Scene:
    scale = min(1.0, STORE_SIDE / max(image.shape[:2]))
    if scale < 1.0:
        image = np.asarray(
            cv2.resize(image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        )
    return Scene(encode(image), (quads * scale).astype(np.float32), source)


def rendered_scenes(
    seed: int, per_format: int, size: tuple[int, int] = (1280, 720)
) -> list[tuple[BGR, Quads, str]]:
    """`per_format` scenes of every corridor and visitor format, one or two lines as the
    renderer draws them, strength 0 to 1."""
    scenes = []
    for index, fmt in enumerate(SCENE_FORMATS):
        for number in range(per_format):
            rng = random.Random(f"plate detector:{seed}:{index}:{number}")
            text = fmt.random_plate(rng)
            frame, quad = render_scene(text, fmt, rng, size, strength=rng.uniform(0.0, 1.0))
            scenes.append((frame, quad[None].astype(np.float32), fmt.name))
    return scenes


def flat_plates(seed: int, count: int) -> list[BGR]:
    """Rendered plates of every format, soiled, flat: crops to paste."""
    plates = []
    for number in range(count):
        rng = random.Random(f"plate detector plates:{seed}:{number}")
        fmt = SCENE_FORMATS[number % len(SCENE_FORMATS)]
        drawn = draw_plate(fmt.random_plate(rng), fmt, rng, px_per_mm=rng.uniform(0.4, 1.0))
        plates.append(soil(drawn.image, rng, rng.uniform(0.0, 0.8)))
    return plates


def real_crops(frames: Sequence[tuple[BGR, Quads]]) -> list[BGR]:
    """The cn-lprnet crops of the tuning part and the labelled plates of the training frames."""
    crops = []
    if CROPS.is_dir():
        for path, label in labelled_images(CROPS):
            if real_part(label.plate) == "tune" and not held_back(label.plate):
                image = cv2.imread(str(path))
                if image is not None:
                    crops.append(np.asarray(image, np.uint8))
    for image, quads in frames:
        x0, y0 = np.maximum(quads[0].min(axis=0).astype(int), 0)
        x1, y1 = quads[0].max(axis=0).astype(int)
        if x1 - x0 >= 20 and y1 - y0 >= 6:
            crops.append(np.ascontiguousarray(image[y0:y1, x0:x1]))
    return crops


# -- pasting -----------------------------------------------------------------------------------


def paste(
    image: BGR, quads: Quads, crops: Sequence[BGR], rng: np.random.Generator, count: int
) -> tuple[BGR, Quads]:
    """`count` crops pasted with a little perspective where they overlap no plate; a plate
    near the others' size, so a frame holds a tractor's and a trailer's, or several cars'."""
    out = image.copy()
    rows, cols = out.shape[:2]
    widths = [float(np.linalg.norm(q[1] - q[0])) for q in quads] or [cols * 0.12]
    placed = list(quads)
    for _ in range(count):
        crop = crops[int(rng.integers(len(crops)))]
        aspect = crop.shape[0] / crop.shape[1]
        width = float(np.median(widths)) * math.exp(rng.uniform(-0.5, 0.5))
        width = min(width, 0.4 * cols, 0.3 * rows / aspect)  # room for it beside the others
        height = width * aspect
        for _attempt in range(8):
            cx, cy = rng.uniform(width / 2, cols - width / 2), rng.uniform(height, rows - height)
            quad = _jittered_rect(cx, cy, width, height, rng)
            if all(_apart(quad, other) for other in placed):
                paste_plate(out, crop, quad)
                placed.append(quad)
                break
    return out, np.asarray(placed, np.float32).reshape(-1, 4, 2)


def _jittered_rect(cx: float, cy: float, w: float, h: float, rng: np.random.Generator) -> Quads:
    corners = np.array([[-w, -h], [w, -h], [w, h], [-w, h]], np.float32) / 2
    corners += rng.normal(0, 0.04, corners.shape).astype(np.float32) * np.array([w, h * 2])
    turn = math.radians(rng.uniform(-5, 5))
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    return np.asarray(corners @ rotation.T + (cx, cy), np.float32)


def _apart(a: Quads, b: Quads) -> bool:
    (ax0, ay0), (ax1, ay1) = a.min(axis=0), a.max(axis=0)
    (bx0, by0), (bx1, by1) = b.min(axis=0), b.max(axis=0)
    margin = 0.3 * max(ay1 - ay0, by1 - by0)
    return bool(
        ax1 + margin < bx0 or bx1 + margin < ax0 or ay1 + margin < by0 or by1 + margin < ay0
    )


# -- augmented crops ---------------------------------------------------------------------------


def training_crop(
    image: BGR, quads: Quads, rng: np.random.Generator, size: int
) -> tuple[BGR, Quads]:
    """A `size` square crop of the scene at a random scale (a plate 18 to 300 pixels wide: one
    55 to 600 pixels wide in a 1920 frame at an input of 640 to 960), turned and tilted a
    little; a crop off the plates now and then."""
    rows, cols = image.shape[:2]
    if len(quads) and rng.random() < 0.85:
        quad = quads[int(rng.integers(len(quads)))]
        width = max(float(np.linalg.norm(quad[1] - quad[0])), 4.0)
        scale = math.exp(rng.uniform(math.log(18), math.log(300))) / width
        # a frame no smaller than the runtime ever sees it: a big plate stays big
        scale = max(scale, 400 / max(rows, cols))
        centre = quad.mean(axis=0) + rng.uniform(-0.4, 0.4, 2) * size / scale
    else:
        scale = 640 * math.exp(rng.uniform(-0.5, 0.5)) / max(rows, cols)
        centre = np.array([rng.uniform(0, cols), rng.uniform(0, rows)])
    # shrink by area first around the window (a straight warp would alias, unlike the runtime)
    half = size / scale * 0.75
    x0, y0 = (max(0, int(centre[i] - half)) for i in (0, 1))
    x1, y1 = min(cols, int(centre[0] + half) + 1), min(rows, int(centre[1] + half) + 1)
    if x1 - x0 < 4 or y1 - y0 < 4:
        x0, y0, x1, y1 = 0, 0, cols, rows
    window = image[y0:y1, x0:x1]
    small_w, small_h = max(2, round((x1 - x0) * scale)), max(2, round((y1 - y0) * scale))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(window, (small_w, small_h), interpolation=interpolation)
    fx, fy = small_w / (x1 - x0), small_h / (y1 - y0)
    local = (quads - np.array([x0, y0], np.float32)) * np.array([fx, fy], np.float32)
    middle = (centre - np.array([x0, y0])) * np.array([fx, fy])
    # the rest: turn a little, perspective a little, and place the centre mid-crop
    turn = math.radians(rng.uniform(-6, 6)) if rng.random() < 0.5 else 0.0
    source = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]], np.float32) * size / 2
    target = source.copy()
    if rng.random() < 0.4:
        target += rng.normal(0, size * 0.03, target.shape).astype(np.float32)
    rotation = np.array([[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]])
    source = (source @ rotation.T.astype(np.float32)) + middle.astype(np.float32)
    target += size / 2
    matrix = cv2.getPerspectiveTransform(source.astype(np.float32), target.astype(np.float32))
    fill = tuple(int(v) for v in rng.integers(0, 256, 3))
    crop = cv2.warpPerspective(
        small, matrix, (size, size), flags=cv2.INTER_LINEAR, borderValue=fill
    )
    moved = cv2.perspectiveTransform(local.reshape(-1, 1, 2), matrix).reshape(-1, 4, 2)
    return np.asarray(crop, np.uint8), moved.astype(np.float32)


def photometric(image: BGR, rng: np.random.Generator) -> BGR:
    """Light, colour, night, blur, noise and compression."""
    out: npt.NDArray[Any] = image.astype(np.float32)
    if rng.random() < 0.8:  # brightness and contrast, per channel a little
        gain = rng.uniform(0.6, 1.4) * rng.uniform(0.9, 1.1, 3)
        out = (out - 128) * rng.uniform(0.6, 1.3) + 128 + rng.uniform(-40, 40)
        out = out * gain / gain.mean()
    out = np.clip(out, 0, 255)
    if rng.random() < 0.3:
        out = 255 * (out / 255) ** rng.uniform(0.6, 1.6)
    picture: npt.NDArray[Any] = out.astype(np.uint8)
    if rng.random() < 0.15:  # infrared night: grey
        grey = cv2.cvtColor(picture, cv2.COLOR_BGR2GRAY)
        picture = cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    if rng.random() < 0.25:
        sigma = rng.uniform(0.4, 1.5)
        picture = cv2.GaussianBlur(picture, (0, 0), sigma)
    elif rng.random() < 0.15:  # motion blur
        length = int(rng.integers(3, 8))
        kernel: npt.NDArray[Any] = np.zeros((length, length), np.float32)
        kernel[length // 2, :] = 1 / length
        turn = cv2.getRotationMatrix2D((length / 2 - 0.5, length / 2 - 0.5), rng.uniform(0, 180), 1)
        kernel = cv2.warpAffine(kernel, turn, (length, length))
        weights = np.asarray(kernel / max(float(kernel.sum()), 1e-6), np.float32)
        picture = cv2.filter2D(picture, -1, weights)
    if rng.random() < 0.3:
        noise = rng.normal(0, rng.uniform(2, 12), picture.shape)
        picture = np.clip(picture + noise, 0, 255).astype(np.uint8)
    if rng.random() < 0.2:  # a stream's lost resolution: blocky after down and up scaling
        rows, cols = picture.shape[:2]
        factor = rng.uniform(0.4, 0.8)
        small = cv2.resize(picture, (round(cols * factor), round(rows * factor)))
        picture = cv2.resize(small, (cols, rows), interpolation=cv2.INTER_LINEAR)
    if rng.random() < 0.5:
        quality = int(rng.integers(15, 90))
        picture = decode(encode(np.asarray(picture, np.uint8), quality))
    return np.asarray(picture, np.uint8)


def core_target(quads: Quads, size: int, stride: int, shrink: float) -> npt.NDArray[np.float32]:
    """The plate-core map at 1/`stride`: each quad scaled about its centre by `shrink`; the
    centre's map pixel always in, so a plate a pixel tall still has a core."""
    side = size // stride
    target = np.zeros((side, side), np.uint8)
    for quad in quads:
        centre = quad.mean(axis=0)
        core = (centre + (quad - centre) * shrink) / stride - 0.5  # map pixel centres at +0.5
        cv2.fillPoly(target, [np.round(core * 16).astype(np.int32)], 1, cv2.LINE_8, shift=4)
        cx, cy = (int(v) for v in np.floor(centre / stride))
        if 0 <= cx < side and 0 <= cy < side:
            target[cy, cx] = 1
    return target.astype(np.float32)
