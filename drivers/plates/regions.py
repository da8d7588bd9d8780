"""From text boxes to plate regions, and from a region to the one text line the readers see.

The detector finds text lines, and sometimes splits a plate with wide gaps into pieces
("01", "A", "123", "BC"). Pieces on one line are joined; two lines stacked tightly (a square
trailer plate) also make a region, read as its top line followed by its bottom line. The single
lines stay candidates too: which region is the plate is for the format grammars to say."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.text_detector import BGR, Quad, TextBox, ordered_corners

Line: TypeAlias = tuple[TextBox, ...]

LINE_HEIGHT = 48  # rectified line height in pixels, what PP-OCR's recogniser is trained at
# Ablations below (issue 13, plate detector + retrained reader): scripts/plate_ablation.py on
# the real sets' tuning part, as is Top-1 RU 0.944 (36 frames), KZ 0.90 (10: a frame is 0.1),
# MN 0.80 (15: a frame is 0.067), CN 0.884 (69), US 0.754 (118); Top-5 MN 0.867, US 0.932.
# CPU is named only where it moved beyond run-to-run noise (25%).
# Ablation: at 0.25 -> Top-1 and Top-5 unchanged on every set.
_SAME_LINE_CENTRE = 0.5  # centres this many heights apart still sit on one line
# Ablation: at 1.2 -> Top-1 US 0.754 -> 0.763 (one frame), Top-5 US 0.932 -> 0.949; the rest
# unchanged.
_SAME_LINE_HEIGHTS = 1.6  # ... and heights within this ratio
# Ablation: off (=0.5, no smaller piece joined) -> Top-1 and Top-5 unchanged on every set:
# gains nothing measurable on real photographs; kept for a region code boxed off smaller.
_SMALLER_PIECE = 2.4  # a boxed-off region code may be this many times smaller than the plate
# Ablation: no gapped pieces joined (=0) -> Top-1 US 0.754 -> 0.771, Top-5 US 0.932 -> 0.949,
# the rest unchanged; at 0.8 -> Top-1 US 0.763, Top-5 US 0.941, the rest unchanged.
_PIECE_GAP = 1.6  # pieces of one plate are at most this many heights apart
# Ablation: no two-line regions (=-1) -> Top-1 MN 0.80 -> 0.533, Top-5 MN 0.867 -> 0.60, MN CPU
# p95 290-340 -> 557 ms, the rest unchanged; at 0.4 -> Top-1 and Top-5 unchanged.
_STACK_GAP = 0.8  # two lines of one plate are at most this many heights apart
# Ablation: any overlap (=0) -> Top-1 and Top-5 unchanged on every set.
_STACK_OVERLAP = 0.5  # ... and overlap horizontally by this share of the narrower
# ... and the top line is at most this much taller than the bottom one: a plate's top line is
# as tall (KZ, UZ) or smaller (a Chinese province and city letter); a taller box above a line
# is a sign over the plate (a hazard panel's two lines boxed as one). Ablation: off (=100) ->
# Top-1 RU 0.944 -> 0.889, MN 0.80 -> 0.733, US 0.754 -> 0.771; at 1.0 -> MN 0.80 -> 0.60.
_STACK_TOP_TALLER = 1.35
# Not reachable by scripts/plate_ablation.py: widened() takes it as a default at import.
WIDEN = 0.35  # share of a line's height added at each end before it is read
# Ablation: at 0 -> Top-1 MN 0.80 -> 0.533, Top-5 MN 0.867 -> 0.60 (the same as with no
# two-line regions), MN CPU p95 290-340 -> 519 ms; the rest unchanged.
_STACK_OVERLAP_Y = 0.4  # unclipped boxes of tight lines overlap a little vertically


@dataclass(frozen=True)
class PlateRegion:
    lines: tuple[Quad, ...]  # one quad per text line, top line first
    score: float  # the detector's mean probability over the region's boxes
    stacked: bool = False  # a single line that has a partner line: likely half of a plate

    @property
    def quad(self) -> Quad:
        return _enclosing(np.concatenate(self.lines))


def plate_regions(boxes: list[TextBox], limit: int = 6) -> list[PlateRegion]:
    """Candidate plate regions, the likeliest first, at most `limit`."""
    lines = _join_pieces(boxes)
    pairs = _stacked_pairs(lines)
    halves = {id(line) for pair in pairs for line in pair}
    regions = [
        PlateRegion((_enclosing_line(line),), _score(line), id(line) in halves) for line in lines
    ]
    regions += [
        PlateRegion((_enclosing_line(line),), _score(line) * 0.95)
        for line in _with_smaller_pieces(lines)
    ]
    for top, bottom in pairs:
        regions.append(
            PlateRegion(
                (_enclosing_line(top), _enclosing_line(bottom)), _score(top + bottom) * 0.95
            )
        )
    regions.sort(key=lambda r: -r.score * plate_likeness(r))
    return regions[:limit]


def with_line_above(region: PlateRegion, *, as_tall: bool = False) -> PlateRegion:
    """A one-line region with the place of a line above it, which the detector can miss: a
    Chinese square plate's small top line (province and city letter), or with `as_tall` the
    top line of the corridor's other square plates, as tall as the bottom one."""
    tl, tr, _, bl = region.lines[0]
    up = tl - bl  # the line's height, pointing up
    # The detector's box stands off the text by about a fifth of its height. A Chinese top
    # line (0.6 of the bottom line's height) sits close above the text: from a fifth inside the
    # box to a little over half its height above it, over the middle half. An even top line
    # sits a third of its height above: from a tenth inside to 0.95 above, over most of it.
    inside, above, span = (0.1, 0.95, 0.1) if as_tall else (0.2, 0.55, 0.25)
    left, right = tl + (tr - tl) * span, tl + (tr - tl) * (1 - span)
    bottom_l, bottom_r = left - up * inside, right - up * inside
    top_l, top_r = left + up * above, right + up * above
    top = np.array([top_l, top_r, bottom_r, bottom_l], np.float32)
    return PlateRegion((top, region.lines[0]), region.score * 0.9)


def stretched(region: PlateRegion, share: float = 0.6) -> PlateRegion:
    """A one-line region longer at both ends: a boxed region code at the plate's end (the
    Uzbek one at the left) can stand off the detector's box by more than the usual margin."""
    return PlateRegion((widened(region.lines[0], share),), region.score * 0.9)


def line_image(frame: BGR, region: PlateRegion) -> BGR:
    """The region as one rectified text line: a two-line plate's lines side by side."""
    crops = [rectify(frame, widened(quad), LINE_HEIGHT) for quad in region.lines]
    return crops[0] if len(crops) == 1 else np.hstack(crops)


def widened(quad: Quad, share: float = WIDEN) -> Quad:
    """The quad longer at both ends by `share` of its height: the detector's box can stop at a
    divider (a region code boxed off at the plate's edge) and the readers need a margin."""
    along = (quad[1] - quad[0] + quad[2] - quad[3]) / 2
    along = along / max(float(np.linalg.norm(along)), 1.0)
    height = float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
    step = (along * height * share).astype(np.float32)
    return np.array([quad[0] - step, quad[1] + step, quad[2] + step, quad[3] - step], np.float32)


def region_image(frame: BGR, region: PlateRegion, height: int = 64) -> BGR:
    """The whole region rectified, as an officer would want to see it."""
    return rectify(frame, region.quad, height)


def rectify(frame: BGR, quad: Quad, height: int) -> BGR:
    top = float(np.linalg.norm(quad[1] - quad[0]))
    side = float(np.linalg.norm(quad[3] - quad[0]))
    width = max(8, round(height * top / max(side, 1.0)))
    target = np.array([[0, 0], [width, 0], [width, height], [0, height]], np.float32)
    transform = cv2.getPerspectiveTransform(quad.astype(np.float32), target)
    return cv2.warpPerspective(  # type: ignore[return-value]
        frame, transform, (width, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )


def _join_pieces(boxes: list[TextBox]) -> list[Line]:
    """Boxes of one line, left to right, joined while the gaps between them are small."""
    lines: list[list[TextBox]] = []
    for box in sorted(boxes, key=lambda b: float(b.quad[:, 0].min())):
        for line in lines:
            if _continues(line[-1], box):
                line.append(box)
                break
        else:
            lines.append([box])
    return [tuple(line) for line in lines]


def _continues(left: TextBox, right: TextBox) -> bool:
    h = max(left.height, right.height)
    if max(left.height, right.height) > _SAME_LINE_HEIGHTS * min(left.height, right.height):
        return False
    if abs(_centre(left)[1] - _centre(right)[1]) > _SAME_LINE_CENTRE * h:
        return False
    gap = float(right.quad[:, 0].min() - left.quad[:, 0].max())
    return -0.5 * h <= gap <= _PIECE_GAP * h


def _with_smaller_pieces(lines: list[Line]) -> list[Line]:
    """Each line joined with a smaller piece right beside it, as another candidate: a Russian
    plate's region code (with RUS below it) is smaller than its letters and digits, so the
    detector boxes it apart and the same-line rule keeps it apart. Both versions stay
    candidates; the format grammars tell which is the plate."""
    out = []
    for line in lines:
        main = _bounds(line)
        h = main[3] - main[1]
        for piece in lines:
            if piece is line:
                continue
            box = _bounds(piece)
            ph = box[3] - box[1]
            centre = (box[1] + box[3]) / 2
            gap = max(box[0] - main[2], main[0] - box[2])
            if (
                h / _SMALLER_PIECE <= ph < h / _SAME_LINE_HEIGHTS * 1.25
                and main[1] <= centre <= main[3]
                and -0.5 * h <= gap <= 0.8 * h
            ):
                out.append(tuple(sorted(line + piece, key=lambda b: float(b.quad[:, 0].min()))))
    return out


def _stacked_pairs(lines: list[Line]) -> list[tuple[Line, Line]]:
    pairs = []
    for top in lines:
        for bottom in lines:
            if top is bottom:
                continue
            t_box, b_box = _bounds(top), _bounds(bottom)
            h = max(t_box[3] - t_box[1], b_box[3] - b_box[1])
            gap = b_box[1] - t_box[3]
            overlap = min(t_box[2], b_box[2]) - max(t_box[0], b_box[0])
            narrower = min(t_box[2] - t_box[0], b_box[2] - b_box[0])
            if (
                -_STACK_OVERLAP_Y * h <= gap <= _STACK_GAP * h
                and overlap >= _STACK_OVERLAP * narrower
                and t_box[3] - t_box[1] <= _STACK_TOP_TALLER * (b_box[3] - b_box[1])
            ):
                pairs.append((top, bottom))
    return pairs


def plate_likeness(region: PlateRegion) -> float:
    """Plates are wide lines of a few characters; a long caption or a tall blob is less
    likely to be one."""
    if region.stacked:
        return 0.4  # one line of a two-line plate reads as a plate of no format, but is half
    quad = region.lines[0] if len(region.lines) == 1 else region.quad
    aspect = float(np.linalg.norm(quad[1] - quad[0])) / max(
        float(np.linalg.norm(quad[3] - quad[0])), 1.0
    )
    if len(region.lines) > 1:  # a two-line plate is squarer: 1.4 (KZ) to 2 (a Chinese one)
        return 1.0 if 0.9 <= aspect <= 3.5 else 0.4
    if 1.2 <= aspect <= 7.0:
        return 1.0
    return 0.4 if aspect <= 10.0 else 0.1  # a date stamp, a phone number, a slogan


def _score(line: Line) -> float:
    return float(np.mean([box.score for box in line]))


def _centre(box: TextBox) -> npt.NDArray[np.float32]:
    return box.quad.mean(axis=0)  # type: ignore[no-any-return]


def _bounds(line: Line) -> tuple[float, float, float, float]:
    points = np.concatenate([box.quad for box in line])
    return (
        float(points[:, 0].min()),
        float(points[:, 1].min()),
        float(points[:, 0].max()),
        float(points[:, 1].max()),
    )


def _enclosing_line(line: Line) -> Quad:
    if len(line) == 1:
        return line[0].quad
    return _enclosing(np.concatenate([box.quad for box in line]))


def _enclosing(points: npt.NDArray[np.float32]) -> Quad:
    corners = cv2.boxPoints(cv2.minAreaRect(points.astype(np.float32)))
    return ordered_corners(np.asarray(corners, np.float32))
