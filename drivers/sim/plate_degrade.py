"""What the road and the camera do to a plate: dirt and shadow on it (`soil`), a view that is
not square on (`warp`), and a camera's optics and sensor by day or by infrared at night
(`capture`). `strength` runs from 0 (clean) to 1 (hard, though a person still reads the plate);
every random choice comes from the `random.Random` given, so a seed gives the same image."""

from __future__ import annotations

import math
import random
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from drivers.sim.plate_glyphs import BGR, blend

Matrix: TypeAlias = npt.NDArray[np.float64]  # a 3 x 3 homography
Field: TypeAlias = npt.NDArray[np.float32]  # one value a pixel

_DIRT_COLOURS = ((45, 75, 105), (60, 95, 125), (35, 50, 65), (90, 120, 140))  # BGR browns, greys


def degrade(image: BGR, rng: random.Random, *, strength: float = 0.5) -> BGR:
    """All of it in order: dirt and shadow on the plate, the view, then the camera."""
    soiled = soil(image, rng, strength)
    warped, _ = warp(soiled, rng, strength)
    return capture(warped, rng, strength)


def numpy_rng(rng: random.Random) -> np.random.Generator:
    """A numpy generator drawn from `rng`, for noise fields, so one seed drives both."""
    return np.random.default_rng(rng.getrandbits(64))


# -- on the plate ------------------------------------------------------------------------------


def soil(image: BGR, rng: random.Random, strength: float) -> BGR:
    """Dirt and uneven light on the plate itself, before it is seen."""
    out = add_dirt(image, rng, strength)
    return shade(out, rng, strength)


def add_dirt(image: BGR, rng: random.Random, strength: float) -> BGR:
    """Brownish blotches, smears and specks, soft-edged; none big enough to hide a character."""
    height, width = image.shape[:2]
    count = rng.randint(0, round(2 + 8 * strength)) if strength > 0 else 0
    if count == 0:
        return image
    mask = np.zeros((height, width), np.uint8)
    for _ in range(count):
        centre = (rng.randrange(width), rng.randrange(height))
        opacity = round(255 * rng.uniform(0.2, 0.35 + 0.45 * strength))
        if rng.random() < 0.6:  # a blotch
            axes = (
                max(1, round(width * rng.uniform(0.01, 0.07))),
                max(1, round(height * rng.uniform(0.04, 0.22))),
            )
            cv2.ellipse(mask, centre, axes, rng.uniform(0, 180), 0, 360, opacity, -1)
        else:  # a smear: a thick stroke, as from a wiper or a hand
            end = (
                centre[0] + rng.randint(-width // 5, width // 5),
                centre[1] + rng.randint(-height // 3, height // 3),
            )
            cv2.line(mask, centre, end, opacity, max(1, round(height * rng.uniform(0.03, 0.12))))
    specks = numpy_rng(rng).random((height, width)) < 0.004 * strength
    mask[specks] = 200
    soft = max(0.5, height * 0.02)
    mask = np.asarray(cv2.GaussianBlur(mask, (0, 0), soft), dtype=np.uint8)
    out = image.copy()
    blend(out, mask, rng.choice(_DIRT_COLOURS))
    return out


def shade(image: BGR, rng: random.Random, strength: float) -> BGR:
    """Light that falls off across the plate, and sometimes the hard edge of a shadow."""
    height, width = image.shape[:2]
    angle = rng.uniform(0, 2 * math.pi)
    xs = np.linspace(-0.5, 0.5, width, dtype=np.float32)[None, :]
    ys = np.linspace(-0.5, 0.5, height, dtype=np.float32)[:, None] * (height / width)
    along = xs * math.cos(angle) + ys * math.sin(angle)
    gain: Field = 1.0 - rng.uniform(0, 0.5 * strength) * (along + 0.5)
    if rng.random() < 0.4 * strength:  # the shadow of a bumper bar, a mirror, the cab
        edge = rng.uniform(-0.3, 0.3)
        shadow = (along > edge).astype(np.float32)
        blurred = cv2.GaussianBlur(shadow, (0, 0), max(0.5, width * 0.01))
        gain = gain * (1.0 - rng.uniform(0.3, 0.6) * np.asarray(blurred, np.float32))
    return _u8(cv2.multiply(image, cv2.merge([gain] * 3), dtype=cv2.CV_8U))


# -- the view ----------------------------------------------------------------------------------


def warp(
    image: BGR,
    rng: random.Random,
    strength: float,
    *,
    border: int = cv2.BORDER_REPLICATE,
) -> tuple[BGR, Matrix]:
    """The image seen a little off square: corners moved at random, a rotation of up to a few
    degrees and a scale around 1, within the same frame. Returns the image and the homography."""
    height, width = image.shape[:2]
    src = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    jitter = np.array(
        [[rng.uniform(-1, 1) * width, rng.uniform(-1, 1) * height] for _ in range(4)], np.float32
    )
    moved = src + jitter * 0.06 * strength
    centre = np.array([width / 2, height / 2], np.float32)
    turn = math.radians(rng.uniform(-4, 4) * strength)
    scale = 1 + rng.uniform(-0.1, 0.1) * strength
    rotation = np.array(
        [[math.cos(turn), -math.sin(turn)], [math.sin(turn), math.cos(turn)]], np.float32
    )
    dst = ((moved - centre) @ rotation.T) * scale + centre
    matrix = cv2.getPerspectiveTransform(src, dst.astype(np.float32))
    out = cv2.warpPerspective(
        image, matrix, (width, height), flags=cv2.INTER_LINEAR, borderMode=border
    )
    return _u8(out), np.asarray(matrix, np.float64)


# -- the camera --------------------------------------------------------------------------------


def capture(image: BGR, rng: random.Random, strength: float, *, night: bool | None = None) -> BGR:
    """What the camera adds: night or infrared light, blur, sensor noise, JPEG compression.
    When `night` is None it is drawn and the light changed to match; True or False say the
    caller has lit the image itself (a night image gets a noisier sensor)."""
    out = image
    if night is None:
        night = rng.random() < 0.35 * strength
        if night:
            ir = rng.random() < 0.6
            out = infrared(out, rng, strength) if ir else low_light(out, rng, strength)
    out = blur(out, rng, strength)
    out = sensor_noise(out, rng, strength * (1.5 if night else 1.0))
    return jpeg(out, rng, strength)


def infrared(image: BGR, rng: random.Random, strength: float) -> BGR:
    """An IR camera at night: grey, the reflective plate glaring against the dark around it,
    a bright spot where the illuminator hits."""
    grey = cv2.cvtColor(image, cv2.COLOR_BGR2GRAY).astype(np.float32)
    contrast = rng.uniform(1.2, 1.2 + 0.8 * strength)
    grey = (grey - 128) * contrast + 128 + rng.uniform(-20, 40)
    height, width = grey.shape
    cx, cy = rng.uniform(0, width), rng.uniform(0, height)
    radius = rng.uniform(0.2, 0.6) * width
    xs = (np.arange(width, dtype=np.float32)[None, :] - cx) / radius
    ys = (np.arange(height, dtype=np.float32)[:, None] - cy) / radius
    grey += rng.uniform(20, 40 + 60 * strength) * np.exp(-(xs * xs + ys * ys))
    return _u8(cv2.cvtColor(_u8(grey), cv2.COLOR_GRAY2BGR))


def low_light(image: BGR, rng: random.Random, strength: float) -> BGR:
    """Dusk without IR: dark, flat and a little blue."""
    gain = rng.uniform(0.3, 0.65 - 0.2 * strength)
    tint = np.array([1.15, 1.0, 0.85], np.float32)
    return _u8(image.astype(np.float32) * gain * tint + 8)


def blur(image: BGR, rng: random.Random, strength: float) -> BGR:
    """Out of focus (gaussian) or moving (a line of a few pixels at an angle)."""
    if strength <= 0 or rng.random() < 0.3:
        return image
    if rng.random() < 0.6:
        sigma = rng.uniform(0.3, 0.4 + 1.2 * strength)
        return _u8(cv2.GaussianBlur(image, (0, 0), sigma))
    length = rng.randint(2, 2 + round(6 * strength))
    kernel = np.zeros((length, length), np.float32)
    kernel[length // 2, :] = 1 / length
    turn = cv2.getRotationMatrix2D(((length - 1) / 2, (length - 1) / 2), rng.uniform(0, 180), 1)
    kernel = np.asarray(cv2.warpAffine(kernel, turn, (length, length)), np.float32)
    return _u8(cv2.filter2D(image, -1, kernel / max(float(kernel.sum()), 1e-6)))


def sensor_noise(image: BGR, rng: random.Random, strength: float) -> BGR:
    """Grain, mostly shared by the three channels as in a real sensor's luminance noise."""
    sigma = rng.uniform(1, 2 + 10 * strength)
    grain = numpy_rng(rng).standard_normal(image.shape[:2], dtype=np.float32) * sigma
    return _u8(cv2.add(image, cv2.merge([grain] * 3), dtype=cv2.CV_8U))


def jpeg(image: BGR, rng: random.Random, strength: float) -> BGR:
    """JPEG blocks and ringing, as a camera's stream or a stored frame carries them."""
    quality = rng.randint(round(95 - 70 * strength), 95)
    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("OpenCV could not encode the image as JPEG")
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR)
    if decoded is None:
        raise ValueError("OpenCV could not decode its own JPEG")
    return _u8(decoded)


def _u8(image: npt.ArrayLike) -> BGR:
    array = np.asarray(image)
    return array if array.dtype == np.uint8 else np.clip(array, 0, 255).astype(np.uint8)
