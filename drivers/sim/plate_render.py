"""Flat, front-on licence plates in each corridor country's layout (colours, border, country
band, region box, one or two lines), for the plates that `edge.plate_formats` generates; and
the visitors' European layouts (the blue band with the EU stars or a flag, or a flag on the
white), one line.

The characters are drawn by `drivers.sim.plate_glyphs`, with the font that has each glyph.
Every length of a layout is in millimetres of the real plate, drawn at `px_per_mm`."""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Literal

import cv2
import numpy as np

from drivers.sim.plate_emblems import Flag, draw_flag, draw_star_ring
from drivers.sim.plate_glyphs import BGR, Box, Colour, Lettering, draw_text
from edge.plate_formats import FORMATS, PlateFormat, latin_writing, square_cut

# Every character a plate label can hold: the formats' alphabets and drawn values, with the
# Cyrillic look-alikes in Latin (see `plate_label`).
PLATE_CHARSET = "".join(
    sorted(
        {
            latin_writing(ch)
            for fmt in FORMATS
            for group in fmt.groups
            for ch in group.alphabet + "".join(group.values)
        }
    )
)


def plate_label(text: str) -> str:
    """The plate's characters for a recogniser: no separators, upper case, each Cyrillic
    look-alike in Latin (and the Ukrainian and Belarusian І); Cyrillic without a twin (Ө, Б)
    and Han characters kept."""
    return "".join(ch for ch in latin_writing(text.upper()).replace("І", "I") if ch.isalnum())


# -- layouts -----------------------------------------------------------------------------------


def _bgr(r: int, g: int, b: int) -> Colour:
    return (b, g, r)


WHITE, BLACK = _bgr(245, 245, 240), _bgr(20, 20, 20)
CN_BLUE, CN_YELLOW = _bgr(10, 60, 170), _bgr(245, 190, 20)
EU_BLUE, EU_YELLOW = _bgr(0, 51, 153), _bgr(255, 204, 0)
RUSSIA = Flag((WHITE, _bgr(0, 57, 166), _bgr(213, 43, 30)))
GEORGIA = Flag((WHITE,), cross=_bgr(220, 20, 30), quarter_crosses=True)
BELARUS = Flag((_bgr(200, 49, 62), _bgr(200, 49, 62), _bgr(74, 166, 87)))
UKRAINE = Flag((_bgr(0, 87, 183), _bgr(255, 215, 0)))


@dataclass(frozen=True)
class Layout:
    """What a country's plates look like beyond their text."""

    background: Colour
    ink: Colour
    border: Colour
    band: Colour | None = None  # the country band, with `code` in white
    band_side: Literal["left", "right"] = "left"
    code: str = ""
    stars: bool = False  # the EU's ring of stars above the code
    flag: Flag | None = None  # a flag above the code, on the band or on the plate itself
    two_line: bool = True  # also issued square, on two lines
    region_group: Literal["first", "last"] | None = None  # set apart in a box of its own
    region_caption: str = ""  # RU: "RUS" and the flag under the region
    size_mm: tuple[int, int] = (520, 112)
    square_mm: tuple[int, int] = (290, 170)


LAYOUTS: dict[str, Layout] = {
    "KZ": Layout(WHITE, BLACK, BLACK, band=_bgr(0, 150, 200), code="KZ"),
    "KG": Layout(WHITE, BLACK, BLACK, band=_bgr(200, 16, 46), code="KG"),
    "UZ": Layout(
        WHITE, BLACK, BLACK, band=_bgr(0, 130, 190), band_side="right", code="UZ",
        region_group="first",
    ),
    "TJ": Layout(WHITE, BLACK, BLACK, band=_bgr(0, 120, 60), band_side="right", code="TJ"),
    "AZ": Layout(WHITE, BLACK, BLACK, band=_bgr(0, 100, 180), code="AZ"),
    "RU": Layout(WHITE, BLACK, BLACK, region_group="last", region_caption="RUS"),
    "MN": Layout(WHITE, BLACK, BLACK, band=_bgr(190, 20, 40), code="MNG"),
    # Visitors: one line. Turkey's band is blue without the stars (it is not in the EU).
    "TR": Layout(WHITE, BLACK, BLACK, band=EU_BLUE, code="TR", two_line=False),
    "LT": Layout(WHITE, BLACK, BLACK, band=EU_BLUE, code="LT", stars=True, two_line=False),
    "PL": Layout(WHITE, BLACK, BLACK, band=EU_BLUE, code="PL", stars=True, two_line=False),
    "DE": Layout(WHITE, BLACK, BLACK, band=EU_BLUE, code="D", stars=True, two_line=False),
    "GE": Layout(WHITE, BLACK, BLACK, band=EU_BLUE, code="GE", flag=GEORGIA, two_line=False),
    "UA": Layout(WHITE, BLACK, BLACK, band=EU_BLUE, code="UA", flag=UKRAINE, two_line=False),
    "BY": Layout(WHITE, BLACK, BLACK, code="BY", flag=BELARUS, two_line=False),
}  # fmt: skip
_CN_CAR = Layout(CN_BLUE, WHITE, WHITE, size_mm=(440, 140), square_mm=(440, 220))
_CN_TRUCK = Layout(CN_YELLOW, BLACK, BLACK, size_mm=(440, 140), square_mm=(440, 220))


def layout_for(fmt: PlateFormat, rng: random.Random) -> Layout:
    """The country's layout; China's is blue for cars and yellow for trucks and trailers."""
    if fmt.country == "CN":
        return _CN_TRUCK if fmt.kind == "trailer" or rng.random() < 0.6 else _CN_CAR
    return LAYOUTS.get(fmt.country, Layout(WHITE, BLACK, BLACK))


def split_groups(text: str, fmt: PlateFormat) -> list[str]:
    """The plate's groups as generated (`777 ABC 02` -> 777, ABC, 02); the whole text as one
    group when it does not fit the format as written."""
    pattern = "".join(
        ("" if i == 0 else re.escape(fmt.separators[i - 1])) + f"({group.pattern()})"
        for i, group in enumerate(fmt.groups)
    )
    found = re.fullmatch(pattern, text)
    return list(found.groups()) if found else [text]


def split_lines(text: str, fmt: PlateFormat) -> tuple[str, str]:
    """Top and bottom line of the plate's square layout, split at a separator: China's province
    and city code on top; elsewhere the split with the most even lines, the shorter one on top."""
    groups = split_groups(text, fmt)
    if len(groups) < 2:
        return text, ""
    separators = fmt.separators if len(groups) == len(fmt.groups) else ("",) * len(groups)

    def join(start: int, stop: int) -> str:
        out = groups[start]
        for i in range(start + 1, stop):
            out += separators[i - 1] + groups[i]
        return out

    cut = square_cut([len(g) for g in groups], fmt.country)
    return join(0, cut), join(cut, len(groups))


# -- plates ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlateLine:
    """One line of a rendered plate: its text as written and the rows its characters fill."""

    text: str
    top: int
    bottom: int


@dataclass(frozen=True)
class RenderedPlate:
    image: BGR
    lines: tuple[PlateLine, ...]  # one, or top and bottom of a square plate
    layout: Layout


def render_plate(
    text: str,
    fmt: PlateFormat,
    rng: random.Random,
    *,
    two_line: bool | None = None,
    px_per_mm: float = 1.0,
) -> BGR:
    """The flat, front-on plate `text` (as written, e.g. `fmt.random_plate(rng)`) in its
    country's layout, `px_per_mm` pixels a millimetre (a long plate is 520 x 112 mm). Square
    two-line plates when `two_line`; when None, as often as on the road (mostly trailers)."""
    return draw_plate(text, fmt, rng, two_line=two_line, px_per_mm=px_per_mm).image


def draw_plate(
    text: str,
    fmt: PlateFormat,
    rng: random.Random,
    *,
    two_line: bool | None = None,
    px_per_mm: float = 1.0,
) -> RenderedPlate:
    """`render_plate` with where each line of text lies, for crops of single lines."""
    layout = layout_for(fmt, rng)
    lettering = Lettering.draw(rng)
    if two_line is None:
        two_line = layout.two_line and rng.random() < _two_line_odds(fmt, layout)
    painter = _Painter(layout, lettering, px_per_mm)
    if two_line:
        return painter.square(*split_lines(text, fmt))
    return painter.long(text, split_groups(text, fmt))


def _two_line_odds(fmt: PlateFormat, layout: Layout) -> float:
    if fmt.kind == "trailer":
        return 0.7
    return 0.5 if layout is _CN_TRUCK else 0.1  # Chinese trucks carry a square plate behind


class _Painter:
    """Draws one plate; every length it takes is in millimetres of the real plate."""

    def __init__(self, layout: Layout, lettering: Lettering, px_per_mm: float) -> None:
        self.layout, self.lettering, self.scale = layout, lettering, px_per_mm

    def px(self, mm: float) -> int:
        return round(mm * self.scale)

    def box(self, x0: float, y0: float, x1: float, y1: float) -> Box:
        return self.px(x0), self.px(y0), self.px(x1), self.px(y1)

    def blank(self, size_mm: tuple[int, int]) -> BGR:
        width, height = self.px(size_mm[0]), self.px(size_mm[1])
        return np.full((height, width, 3), self.layout.background, np.uint8)

    def text(self, image: BGR, text: str, box: Box) -> PlateLine:
        draw_text(image, text, box, self.layout.ink, self.layout.background, self.lettering)
        return PlateLine(text, box[1], box[3])

    @property
    def has_band(self) -> bool:
        return self.layout.band is not None or self.layout.flag is not None

    def band(self, image: BGR, x0: float, x1: float, height: float) -> None:
        """The country band: a plain colour (or the plate's own, under a flag) with the EU
        stars or a flag high in it and the country code low in it."""
        layout = self.layout
        if not self.has_band:
            return
        if layout.band is not None:
            px0, _, px1, _ = self.box(x0, 0, x1, 0)
            image[:, px0:px1] = layout.band
        if layout.stars:
            draw_star_ring(image, self.emblem_box(x0, x1, height, 1.0), EU_YELLOW)
        if layout.flag is not None:
            draw_flag(image, self.emblem_box(x0, x1, height, 2 / 3), layout.flag)
        inset = (x1 - x0) * 0.14
        code = self.box(x0 + inset, height * 0.62, x1 - inset, height * 0.86)
        paper, ink = (
            (layout.background, layout.ink) if layout.band is None else (layout.band, WHITE)
        )
        draw_text(image, layout.code, code, ink, paper, self.lettering)

    def emblem_box(self, x0: float, x1: float, height: float, aspect: float) -> Box:
        """Where the stars or the flag go: centred across the band, above the code; `aspect`
        is height over width."""
        width = min((x1 - x0) * 0.76, height * 0.42 / aspect)
        middle_x, middle_y = (x0 + x1) / 2, height * 0.32
        half_w, half_h = width / 2, width * aspect / 2
        return self.box(middle_x - half_w, middle_y - half_h, middle_x + half_w, middle_y + half_h)

    def border(self, image: BGR) -> None:
        height, width = image.shape[:2]
        inset, thick = self.px(2), max(1, self.px(4))
        cv2.rectangle(
            image, (inset, inset), (width - inset, height - inset), self.layout.border, thick
        )

    def long(self, text: str, groups: list[str]) -> RenderedPlate:
        width, height = self.layout.size_mm
        image = self.blank(self.layout.size_mm)
        left, right = 10.0, width - 10.0
        if self.has_band:
            band_w = width * 0.1
            if self.layout.band_side == "left":
                self.band(image, 0, band_w, height)
                left = band_w + 8
            else:
                self.band(image, width - band_w, width, height)
                right = width - band_w - 8
        if self.layout.region_group and len(groups) > 1:
            text, left, right = self.region(image, text, groups, left, right)
        line = self.text(image, text, self.box(left, height * 0.16, right, height * 0.84))
        self.border(image)
        return RenderedPlate(image, (line,), self.layout)

    def region(
        self, image: BGR, text: str, groups: list[str], left: float, right: float
    ) -> tuple[str, float, float]:
        """Set the region apart in a box of its own; the rest of the text and its span."""
        height = self.layout.size_mm[1]
        line_w = max(1, self.px(3))
        if self.layout.region_group == "last":
            region, rest = groups[-1], text[: len(text) - len(groups[-1])].rstrip(" -")
            x0 = right - self.layout.size_mm[0] * 0.2
            x = self.px(x0)
            cv2.line(image, (x, 0), (x, image.shape[0]), self.layout.border, line_w)
            self.text(image, region, self.box(x0 + 6, height * 0.08, right, height * 0.6))
            if self.layout.region_caption:
                self.caption(image, x0 + 6, right)
            return rest, left, x0 - 6
        region, rest = groups[0], text[len(groups[0]) :].lstrip(" -")
        x1 = left + self.layout.size_mm[0] * 0.11
        x = self.px(x1)
        cv2.line(image, (x, 0), (x, image.shape[0]), self.layout.border, line_w)
        self.text(image, region, self.box(left, height * 0.16, x1 - 6, height * 0.84))
        return rest, x1 + 8, right

    def caption(self, image: BGR, x0: float, x1: float) -> None:
        """RU: "RUS" and the flag under the region code."""
        height = self.layout.size_mm[1]
        split = x0 + (x1 - x0) * 0.58
        self.text(
            image, self.layout.region_caption, self.box(x0, height * 0.68, split, height * 0.86)
        )
        draw_flag(image, self.box(split + 4, height * 0.68, x1 - 2, height * 0.86), RUSSIA)

    def square(self, top: str, bottom: str) -> RenderedPlate:
        width, height = self.layout.square_mm
        image = self.blank(self.layout.square_mm)
        if self.layout is _CN_TRUCK or self.layout is _CN_CAR:
            upper = self.box(width * 0.3, height * 0.08, width * 0.7, height * 0.36)
            lower = self.box(width * 0.06, height * 0.42, width * 0.94, height * 0.9)
        else:
            left = 8.0
            if self.has_band:
                self.band(image, 0, width * 0.14, height)
                left = width * 0.14 + 8
            upper = self.box(left, height * 0.1, width - 8, height * 0.45)
            lower = self.box(left, height * 0.55, width - 8, height * 0.9)
        lines = (self.text(image, top, upper), self.text(image, bottom, lower))
        self.border(image)
        return RenderedPlate(image, lines, self.layout)
