"""What a plate's country band shows besides its code, drawn simply: the ring of twelve stars
of EU plates and national flags (stripes, and Georgia's cross). Boxes are in pixels of the
plate being drawn."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.sim.plate_glyphs import BGR, Box, Colour

_EDGE: Colour = (20, 20, 20)  # the plates' black ink
_SUBPIXEL_BITS = 4  # cv2.fillPoly's fixed point: the small stars keep their shape


@dataclass(frozen=True)
class Flag:
    """A national flag: even horizontal stripes, top to bottom (a colour twice for a wider
    stripe), and a cross over them, with a small one in each quarter (Georgia's)."""

    stripes: tuple[Colour, ...]
    cross: Colour | None = None
    quarter_crosses: bool = False


def draw_flag(image: BGR, box: Box, flag: Flag) -> None:
    """The flag filling `box`, with a thin black edge."""
    x0, y0, x1, y1 = box
    stripe = (y1 - y0) / len(flag.stripes)
    for i, colour in enumerate(flag.stripes):
        image[y0 + round(i * stripe) : y0 + round((i + 1) * stripe), x0:x1] = colour
    if flag.cross is not None:
        _draw_cross(image, box, flag.cross, 0.1)
        if flag.quarter_crosses:
            for quarter in _quarters(box):
                _draw_cross(image, quarter, flag.cross, 0.08)
    cv2.rectangle(image, (x0, y0), (x1, y1), _EDGE, 1)


def _draw_cross(image: BGR, box: Box, colour: Colour, thickness: float) -> None:
    """A cross through the middle of `box`, its bars `thickness` of the box's height thick."""
    x0, y0, x1, y1 = box
    half = max(1, round((y1 - y0) * thickness))
    middle_x, middle_y = (x0 + x1) // 2, (y0 + y1) // 2
    image[y0:y1, max(x0, middle_x - half) : middle_x + half] = colour
    image[max(y0, middle_y - half) : middle_y + half, x0:x1] = colour


def _quarters(box: Box) -> list[Box]:
    """The middle of each quarter of `box`, half as large as the quarter."""
    x0, y0, x1, y1 = box
    width, height = (x1 - x0) / 4, (y1 - y0) / 4
    return [
        (round(x - width / 2), round(y - height / 2), round(x + width / 2), round(y + height / 2))
        for x in (x0 + width, x1 - width)
        for y in (y0 + height, y1 - height)
    ]


def draw_star_ring(image: BGR, box: Box, colour: Colour) -> None:
    """The twelve five-pointed stars of the EU flag in a ring filling `box`."""
    x0, y0, x1, y1 = box
    centre_x, centre_y = (x0 + x1) / 2, (y0 + y1) / 2
    star = min(x1 - x0, y1 - y0) / 9  # a star's outer radius
    ring = min(x1 - x0, y1 - y0) / 2 - star
    stars = [
        _star_points(
            centre_x + ring * math.cos(math.tau * k / 12),
            centre_y + ring * math.sin(math.tau * k / 12),
            star,
        )
        for k in range(12)
    ]
    cv2.fillPoly(image, stars, colour, cv2.LINE_AA, shift=_SUBPIXEL_BITS)


def _star_points(x: float, y: float, radius: float) -> np.ndarray:
    """A five-pointed star, one point up, in cv2.fillPoly's fixed point."""
    points = []
    for k in range(10):
        reach = radius if k % 2 == 0 else radius * 0.38
        angle = math.pi * k / 5 - math.pi / 2
        points.append((x + reach * math.cos(angle), y + reach * math.sin(angle)))
    return np.round(np.array(points) * (1 << _SUBPIXEL_BITS)).astype(np.int32)
