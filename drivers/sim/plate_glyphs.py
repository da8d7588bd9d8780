"""Plate lettering: DejaVu Sans (Latin, Cyrillic with Mongolian Ө and Ү) and Noto Sans CJK
(Han) glyphs, drawn once each and cached as masks, composed into lines with numpy and painted
into a box. Far cheaper than drawing text with Pillow each time, which the recogniser's
training needs: hundreds of plates a second from one core."""

from __future__ import annotations

import functools
import random
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

BGR: TypeAlias = npt.NDArray[np.uint8]
Mask: TypeAlias = npt.NDArray[np.uint8]  # ink coverage, 0 (none) to 255 (full)
Colour: TypeAlias = tuple[int, int, int]  # B, G, R, as OpenCV orders them
Box: TypeAlias = tuple[int, int, int, int]  # x0, y0, x1, y1 in pixels, x1 and y1 excluded
Family = Literal["sans", "condensed", "mono"]

_DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
LATIN_FONTS: dict[Family, Path] = {
    "sans": _DEJAVU / "DejaVuSans-Bold.ttf",
    "condensed": _DEJAVU / "DejaVuSansCondensed-Bold.ttf",
    "mono": _DEJAVU / "DejaVuSansMono-Bold.ttf",
}
HAN_FONT = Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Bold.ttc")
_HAN_FACE = 2  # Noto Sans CJK SC: the simplified forms mainland plates use
_GLYPH_PX = 64  # every glyph is drawn once at this size; lines are scaled to their box


@dataclass(frozen=True)
class _Glyph:
    mask: Mask
    left: int  # the ink's offset from the pen position
    top: int  # the ink's top relative to the baseline (negative: above it)
    advance: int


@functools.cache
def _latin_font(family: Family) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(LATIN_FONTS[family]), _GLYPH_PX)


@functools.cache
def _han_font() -> ImageFont.FreeTypeFont:
    return ImageFont.truetype(str(HAN_FONT), _GLYPH_PX, index=_HAN_FACE)


@functools.cache
def _cap_px() -> int:
    return -int(_latin_font("sans").getbbox("H", anchor="ls")[1])


def _is_han(ch: str) -> bool:
    return ord(ch) >= 0x2E80


@functools.cache
def _has_glyph(font: ImageFont.FreeTypeFont, ch: str) -> bool:
    # A private-use code point draws the font's "no glyph" box; a missing glyph draws the same.
    return bytes(font.getmask(ch)) != bytes(font.getmask("\U000f0000"))


@functools.cache
def _glyph(ch: str, family: Family) -> _Glyph:
    font = _han_font() if _is_han(ch) else _latin_font(family)
    if not _has_glyph(font, ch):
        raise ValueError(f"{ch!r}: no glyph in {font.getname()[0]}, it would draw a box")
    left, top, right, bottom = (int(v) for v in font.getbbox(ch, anchor="ls"))
    image = Image.new("L", (max(right - left, 1), max(bottom - top, 1)))
    ImageDraw.Draw(image).text((-left, -top), ch, font=font, fill=255, anchor="ls")
    mask = np.asarray(image, dtype=np.uint8)
    advance = round(font.getlength(ch))
    if not _is_han(ch):
        return _Glyph(mask, left, top, advance)
    # Han characters stand as tall as the Latin capitals beside them, as on a plate.
    scale = _cap_px() / mask.shape[0]
    width = max(1, round(mask.shape[1] * scale))
    resized = cv2.resize(mask, (width, _cap_px()), interpolation=cv2.INTER_AREA)
    return _Glyph(
        np.asarray(resized, np.uint8), round(left * scale), -_cap_px(), round(advance * scale)
    )


@dataclass(frozen=True)
class Lettering:
    """How one plate's characters are set: the font, the gaps, and how condensed."""

    family: Family
    tracking: float  # extra space between characters, in cap heights
    space: float  # the width of a space, in cap heights
    squeeze: float  # width scale of the whole line (plate fonts are narrow)

    @classmethod
    def draw(cls, rng: random.Random) -> Lettering:
        family: Family = rng.choice(("sans", "sans", "condensed", "condensed", "mono"))
        return cls(family, rng.uniform(0.02, 0.14), rng.uniform(0.22, 0.5), rng.uniform(0.7, 0.95))


def line_mask(text: str, lettering: Lettering) -> Mask:
    """The ink of one line of text, trimmed to the ink, at `_GLYPH_PX` (before squeezing)."""
    cap = _cap_px()
    pen, placed = 0, []
    for ch in text:
        if ch.isspace():
            pen += round(lettering.space * cap)
            continue
        glyph = _glyph(ch, lettering.family)
        placed.append((pen + glyph.left, glyph))
        pen += glyph.advance + round(lettering.tracking * cap)
    if not placed:
        return np.zeros((1, 1), np.uint8)
    x0 = min(x for x, _ in placed)
    x1 = max(x + g.mask.shape[1] for x, g in placed)
    y0 = min(g.top for _, g in placed)
    y1 = max(g.top + g.mask.shape[0] for _, g in placed)
    canvas = np.zeros((y1 - y0, x1 - x0), np.uint8)
    for x, g in placed:
        h, w = g.mask.shape
        spot = canvas[g.top - y0 : g.top - y0 + h, x - x0 : x - x0 + w]
        np.maximum(spot, g.mask, out=spot)
    return canvas


def draw_text(
    image: BGR, text: str, box: Box, ink: Colour, paper: Colour | None, lettering: Lettering
) -> None:
    """Write `text` as tall as `box`, centred in it and squeezed to fit its width, in `ink`;
    `paper` is the plain colour the box holds, or None when it is not plain."""
    x0, y0, x1, y1 = box
    mask = line_mask(text, lettering)
    height = y1 - y0
    width = min(x1 - x0, round(mask.shape[1] * height / mask.shape[0] * lettering.squeeze))
    if height < 2 or width < 2:
        return
    ink_mask = np.asarray(cv2.resize(mask, (width, height), interpolation=cv2.INTER_AREA), np.uint8)
    left = x0 + (x1 - x0 - width) // 2
    region = image[y0:y1, left : left + width]
    if paper is None:
        blend(region, ink_mask, ink)
    else:  # on plain paper the blend is a table lookup, far cheaper than arithmetic
        region[...] = cv2.LUT(cv2.merge([ink_mask] * 3), _ink_table(ink, paper))


@functools.cache
def _ink_table(ink: Colour, paper: Colour) -> npt.NDArray[np.uint8]:
    alpha = np.linspace(0.0, 1.0, 256)[:, None]
    table = np.array(paper) * (1 - alpha) + np.array(ink) * alpha
    return np.round(table).astype(np.uint8).reshape(256, 1, 3)


def blend(region: BGR, mask: Mask, colour: Colour) -> None:
    """Paint `colour` into `region` in place, `mask` saying how much of it at each pixel."""
    weight = cv2.merge([mask] * 3)
    paint = np.empty_like(region)
    paint[:] = colour
    kept = cv2.multiply(region, cv2.bitwise_not(weight), scale=1 / 255)
    region[...] = cv2.add(kept, cv2.multiply(paint, weight, scale=1 / 255))
