"""Trucks as a lane camera sees them, drawn with plain shapes: the cab from the front, the
trailer from behind, and what else is written on them (a company's name, a phone number, the
TIR plate, an orange hazard panel) that a plate detector must learn to pass over.

Each drawing is an image and a mask of where the truck is, in a box of the size asked for;
`PLATE_SPOTS` says where on it a plate is mounted, as fractions of that box."""

from __future__ import annotations

import random
from typing import Literal, TypeAlias

import cv2
import numpy as np

from drivers.sim.plate_glyphs import BGR, Colour, Lettering, Mask, draw_text

View = Literal["front", "rear"]
Spot: TypeAlias = tuple[float, float, float]  # centre x, centre y, sideways play; fractions

# Where plates are mounted: the front bumper (middle or off to one side) or the grille's foot;
# at the back, the lights bar above the underrun guard.
PLATE_SPOTS: dict[View, tuple[Spot, ...]] = {
    "front": ((0.5, 0.865, 0.04), (0.3, 0.865, 0.05), (0.7, 0.865, 0.05), (0.5, 0.8, 0.03)),
    "rear": ((0.5, 0.84, 0.1), (0.3, 0.84, 0.05), (0.7, 0.84, 0.05)),
}
CAB_COLOURS: tuple[Colour, ...] = ((40, 40, 170), (150, 90, 30), (230, 230, 230), (40, 120, 40))
TRAILER_COLOURS: tuple[Colour, ...] = (
    (200, 205, 205), (170, 120, 40), (40, 40, 150), (60, 110, 60), (220, 220, 225),
)  # fmt: skip


class _Canvas:
    """A truck's image and mask, drawn to in fractions of its box."""

    def __init__(self, width: int, height: int) -> None:
        self.width, self.height = width, height
        self.image = np.zeros((height, width, 3), np.uint8)
        self.mask = np.zeros((height, width), np.uint8)
        self.line_px = max(2, round(width / 360))

    def at(self, x: float, y: float) -> tuple[int, int]:
        return round(x * self.width), round(y * self.height)

    def box(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        cv2.rectangle(self.image, self.at(x0, y0), self.at(x1, y1), colour, -1)
        cv2.rectangle(self.mask, self.at(x0, y0), self.at(x1, y1), 255, -1)

    def line(self, x0: float, y0: float, x1: float, y1: float, colour: Colour) -> None:
        cv2.line(self.image, self.at(x0, y0), self.at(x1, y1), colour, self.line_px)


def draw_front(width: int, height: int, cab_colour: Colour) -> tuple[BGR, Mask]:
    """A truck from the front: the trailer's box above the cab, mirrors, windscreen, grille,
    headlights, bumper and wheels."""
    truck = _Canvas(width, height)
    truck.box(0.0, 0.0, 1.0, 0.45, (205, 210, 210))  # the trailer's box, above the cab
    for x in np.linspace(0.05, 0.95, 10):
        truck.line(x, 0, x, 0.45, (160, 160, 160))
    truck.box(0.0, 0.38, 0.07, 0.5, (30, 30, 30))  # mirrors
    truck.box(0.93, 0.38, 1.0, 0.5, (30, 30, 30))
    truck.box(0.08, 0.92, 0.22, 1.0, (25, 25, 25))  # wheels
    truck.box(0.78, 0.92, 0.92, 1.0, (25, 25, 25))
    truck.box(0.07, 0.3, 0.93, 0.93, cab_colour)
    truck.box(0.12, 0.36, 0.88, 0.58, (90, 70, 60))  # windscreen
    truck.box(0.3, 0.62, 0.7, 0.78, (45, 45, 45))  # grille
    for y in np.linspace(0.64, 0.76, 6):
        truck.line(0.31, y, 0.69, y, (90, 90, 90))
    truck.box(0.1, 0.67, 0.24, 0.74, (200, 240, 250))  # headlights
    truck.box(0.76, 0.67, 0.9, 0.74, (200, 240, 250))
    truck.box(0.04, 0.8, 0.96, 0.93, (60, 60, 60))  # bumper
    return truck.image, truck.mask


def draw_rear(width: int, height: int, body_colour: Colour) -> tuple[BGR, Mask]:
    """A trailer from behind: two doors with their locking bars, tail lights, the striped
    underrun guard, mud flaps and wheels."""
    truck = _Canvas(width, height)
    truck.box(0.06, 0.9, 0.3, 1.0, (25, 25, 25))  # wheels
    truck.box(0.7, 0.9, 0.94, 1.0, (25, 25, 25))
    truck.box(0.0, 0.0, 1.0, 0.8, body_colour)
    truck.line(0.5, 0.02, 0.5, 0.8, (60, 60, 60))  # where the doors meet
    for x in (0.16, 0.36, 0.64, 0.84):  # locking bars
        truck.box(x - 0.006, 0.04, x + 0.006, 0.78, (120, 120, 125))
    truck.box(0.0, 0.8, 1.0, 0.88, (50, 50, 50))  # the lights bar
    truck.box(0.02, 0.81, 0.14, 0.87, (30, 30, 200))  # tail lights
    truck.box(0.86, 0.81, 0.98, 0.87, (30, 30, 200))
    truck.box(0.14, 0.81, 0.18, 0.87, (20, 140, 240))  # indicators
    truck.box(0.82, 0.81, 0.86, 0.87, (20, 140, 240))
    for i in range(12):  # the underrun guard, striped red and white
        colour = (40, 40, 200) if i % 2 else (235, 235, 235)
        truck.box(0.1 + i * 0.0667, 0.9, 0.1 + (i + 1) * 0.0667, 0.93, colour)
    truck.box(0.02, 0.88, 0.08, 0.99, (20, 20, 20))  # mud flaps
    truck.box(0.92, 0.88, 0.98, 0.99, (20, 20, 20))
    return truck.image, truck.mask


# -- what else is written on a truck -----------------------------------------------------------

COMPANIES = (
    "SILK WAY LOGISTICS", "KAZTRANSAVTO", "ASIA CARGO", "ORIENT EXPRESS", "ТРАНСАВТО",
    "АВТОЛАЙН", "ТЕМИР ЖОЛ КАРГО", "新疆国际运输", "TURKISTAN TRANS", "MONGOL CARGO", "ДАЛАЙ ТРАНС",
)  # fmt: skip


def phone_number(rng: random.Random) -> str:
    prefix = rng.choice(("+7 7", "+996 5", "+998 9", "+976 9", "+86 13"))
    return f"{prefix}{rng.randint(0, 99):02d} {rng.randint(100, 999)} {rng.randint(1000, 9999)}"


def paint_livery(image: BGR, view: View, rng: random.Random) -> None:
    """Write a company name and a phone number on the truck, and sometimes mount a TIR plate
    and an orange hazard panel: text and plate-like boxes that are not the plate."""
    lettering = Lettering.draw(rng)
    ink = rng.choice(_INKS)
    name_top = 0.05 if view == "front" else rng.uniform(0.08, 0.25)
    name_box = (0.08, name_top, 0.92, name_top + rng.uniform(0.08, 0.14))
    _write(image, rng.choice(COMPANIES), name_box, ink, lettering)
    if rng.random() < 0.7:
        phone_top = 0.25 if view == "front" else rng.uniform(0.45, 0.54)
        _write(image, phone_number(rng), (0.2, phone_top, 0.8, phone_top + 0.06), ink, lettering)
    tir, hazard = _SIGNS[view]
    if rng.random() < 0.5:
        _panel(image, "TIR", tir, (140, 60, 0), (255, 255, 255))
    if rng.random() < 0.4:
        number = rng.choice(("33\n1203", "30\n1202", "23\n1965", "80\n1824"))
        _panel(image, number, hazard, (0, 120, 255), (0, 0, 0))


_INKS: tuple[Colour, ...] = ((20, 20, 20), (30, 30, 160), (150, 60, 20), (240, 240, 240))
# Where the TIR plate and the hazard panel hang: on the grille, or low on the doors; clear of
# every plate spot and of the lettering.
_SIGNS: dict[View, tuple[tuple[float, float, float, float], ...]] = {
    "front": ((0.5, 0.63, 0.66, 0.71), (0.33, 0.63, 0.45, 0.73)),
    "rear": ((0.72, 0.68, 0.88, 0.76), (0.12, 0.66, 0.26, 0.76)),
}


def _box_px(image: BGR, box: tuple[float, float, float, float]) -> tuple[int, int, int, int]:
    height, width = image.shape[:2]
    x0, y0, x1, y1 = box
    return round(x0 * width), round(y0 * height), round(x1 * width), round(y1 * height)


def _write(
    image: BGR, text: str, box: tuple[float, float, float, float], ink: Colour, lettering: Lettering
) -> None:
    # Not on plain paper: the trailer has ribs and bars.
    draw_text(image, text, _box_px(image, box), ink, None, lettering)


def _panel(
    image: BGR, text: str, box: tuple[float, float, float, float], paper: Colour, ink: Colour
) -> None:
    """A small rectangular sign with a border: one line, or two split at a newline."""
    x0, y0, x1, y1 = _box_px(image, box)
    cv2.rectangle(image, (x0, y0), (x1, y1), paper, -1)
    cv2.rectangle(image, (x0, y0), (x1, y1), ink, max(1, (y1 - y0) // 12))
    lines = text.split("\n")
    pad = max(1, (y1 - y0) // 8)
    step = (y1 - y0 - 2 * pad) / len(lines)
    lettering = Lettering("sans", 0.05, 0.3, 0.9)
    for i, line in enumerate(lines):
        top = y0 + pad + round(i * step)
        draw_text(image, line, (x0 + pad, top, x1 - pad, top + round(step)), ink, paper, lettering)
