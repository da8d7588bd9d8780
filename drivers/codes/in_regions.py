"""A large frame read region by region: zxing-cpp finds the codes in each candidate region,
and zbar reads first what it can (the region itself when it holds bars, else the box of each
QR code zxing-cpp found), so that zbar never scans the frame's text. A region whose edges lean
one way (a tilted PDF417 or 1D code) is turned upright and read again."""

from __future__ import annotations

import numpy as np

from drivers.codes.backends import ZBAR_FORMATS, RawCode, merge, read_zbar, read_zxing
from drivers.codes.enhance import sharpen
from drivers.codes.geometry import mapped, rotate, translation
from drivers.codes.images import Gray
from drivers.codes.regions import candidate_regions, edge_direction

BARS_COHERENCE = 0.5  # a 1D code's edges are ~0.9 one way; text, QR and DataMatrix below ~0.4
SKEW_COHERENCE = 0.15  # a PDF417's rows still leave ~0.2: enough to know its tilt
DESKEW_MIN_DEGREES = 3.0  # both decoders cope with less; PDF417 and long 1D codes not with more
CONFIRM_MARGIN = 0.25  # of a code's side, around the box zbar is given: its quiet zone


def read_regions(gray: Gray, *, sharpened: bool = False) -> list[RawCode]:
    """The codes in `gray`'s candidate regions, positions in `gray`'s pixels, each once
    (regions may overlap); each crop `sharpened` first when asked."""
    found: list[RawCode] = []
    for region in candidate_regions(gray):
        for code in _read_region(region.crop(gray), sharpened):
            code = mapped(code, translation(region.x0, region.y0))
            if not any(_same_symbol(code, earlier) for earlier in found):
                found.append(code)
    return found


def _read_region(crop: Gray, sharpened: bool) -> list[RawCode]:
    direction = edge_direction(crop)
    bars = direction.coherence >= BARS_COHERENCE
    if sharpened:
        crop = sharpen(crop)
    codes = _read(crop, bars=bars)
    if codes or direction.coherence < SKEW_COHERENCE or abs(direction.skew) < DESKEW_MIN_DEGREES:
        return codes
    height, width = crop.shape
    upright, to_crop = rotate(crop, (width / 2, height / 2), -direction.skew)
    return [mapped(code, to_crop) for code in _read(upright, bars=bars)]


def _read(crop: Gray, *, bars: bool) -> list[RawCode]:
    # Inverted (light on dark) codes are left to the whole-frame pass: trying every text
    # region inverted would double the time of the frames that have a code.
    found = read_zxing(crop, invert=False)
    if bars:
        return merge(read_zbar(crop), found)
    return [_zbars_read(crop, code) or code for code in found]


def _zbars_read(crop: Gray, code: RawCode) -> RawCode | None:
    """zbar's read of `code` (found by zxing-cpp) in a box around it, when zbar reads it."""
    if code.format not in ZBAR_FORMATS or not code.polygon:
        return None
    points = np.array(code.polygon)
    low, high = points.min(axis=0), points.max(axis=0)
    margin = CONFIRM_MARGIN * float((high - low).max()) + 4
    x0, y0 = (max(0, int(v - margin)) for v in low)
    x1, y1 = (int(v + margin) + 1 for v in high)
    box = np.ascontiguousarray(crop[y0:y1, x0:x1])
    for read in read_zbar(box):
        if read.format == code.format:
            return mapped(read, translation(x0, y0))
    return None


def _same_symbol(one: RawCode, other: RawCode) -> bool:
    """The same read twice, from two regions that overlap: same content at the same place."""
    if (one.format, one.text) != (other.format, other.text):
        return False
    if not one.polygon or not other.polygon:
        return True
    one_points, other_points = np.array(one.polygon, float), np.array(other.polygon, float)
    size = float(np.ptp(other_points, axis=0).max())
    return float(np.linalg.norm(one_points.mean(axis=0) - other_points.mean(axis=0))) <= size / 2
