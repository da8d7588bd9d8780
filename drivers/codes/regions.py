"""Where codes may be in a large frame, found cheaply so that the decoders read a few small
crops instead of two million pixels (zbar costs ~45 ms a megapixel, scanning every row and
column). A code is a patch dense in strong edges: bars, modules and their quiet zone's border.

`candidate_regions` measures edge density per cell of CELL x CELL pixels and returns the
bounding boxes of the dense patches, densest first; `edge_direction` says whether a crop's edges
run one way (bars) and how far that way is tilted, so that a tilted PDF417 or 1D code can be
turned upright before a retry."""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from drivers.codes.images import Gray

CELL = 8  # pixels; a QR module of 6 px or bars of 2 px still fill a cell with edges
DENSITY_FLOOR = 60  # mean Sobel magnitude of a cell; paper and sensor noise stay near 20
DENSITY_OVER_MEDIAN = 2.0  # a noisier frame raises the bar with its own background ...
DENSITY_CEILING = 120  # ... but never above what a printed code's cells keep (150-220)
CLOSE_CELLS = 3  # bridges a finder pattern's solid centre and the gaps of wide bars
MIN_SIDE_CELLS = 4  # smaller is a speck or a stroke of text, not a readable code
PAD_CELLS = 2  # the quiet zone and the code's blurred edge, cut off by the threshold
MAX_REGIONS = 16


@dataclass(frozen=True)
class Region:
    """An axis-aligned box of the frame, in pixels (x0, y0 inclusive; x1, y1 exclusive)."""

    x0: int
    y0: int
    x1: int
    y1: int

    def crop(self, gray: Gray) -> Gray:
        return np.ascontiguousarray(gray[self.y0 : self.y1, self.x0 : self.x1])


def candidate_regions(gray: Gray) -> list[Region]:
    """The patches of `gray` dense in edges, densest first, at most MAX_REGIONS."""
    height, width = gray.shape
    rows, cols = height // CELL, width // CELL
    if rows < MIN_SIDE_CELLS or cols < MIN_SIDE_CELLS:
        return [Region(0, 0, width, height)]
    edges = cv2.add(
        cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 1, 0)),
        cv2.convertScaleAbs(cv2.Sobel(gray, cv2.CV_16S, 0, 1)),
    )
    # INTER_AREA on an exact multiple is the mean of each cell.
    density = cv2.resize(
        edges[: rows * CELL, : cols * CELL], (cols, rows), interpolation=cv2.INTER_AREA
    )
    background = DENSITY_OVER_MEDIAN * float(np.median(density))
    threshold = max(DENSITY_FLOOR, min(DENSITY_CEILING, background))
    dense = np.asarray(density > threshold, dtype=np.uint8)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (CLOSE_CELLS, CLOSE_CELLS))
    closed = cv2.morphologyEx(dense, cv2.MORPH_CLOSE, kernel)
    # Opening drops thin lines: a page's or a label's edge, a single line of small print. Left
    # in, a page's outline is one region as large as the page.
    opened = cv2.morphologyEx(closed, cv2.MORPH_OPEN, kernel)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(opened, connectivity=8)
    scored: list[tuple[float, Region]] = []
    for label in range(1, count):
        left, top, box_cols, box_rows, _area = (int(v) for v in stats[label])
        if min(box_cols, box_rows) < MIN_SIDE_CELLS:
            continue
        mean = float(density[labels == label].mean())
        region = Region(
            x0=max(0, (left - PAD_CELLS) * CELL),
            y0=max(0, (top - PAD_CELLS) * CELL),
            x1=min(width, (left + box_cols + PAD_CELLS) * CELL),
            y1=min(height, (top + box_rows + PAD_CELLS) * CELL),
        )
        scored.append((mean, region))
    scored.sort(key=lambda item: item[0], reverse=True)
    return [region for _, region in scored[:MAX_REGIONS]]


@dataclass(frozen=True)
class Direction:
    """How a crop's edges lie: `coherence` 0 (every direction: text, a QR code) to 1 (one
    direction: the bars of a 1D code); `skew` the degrees (counter-clockwise, within ±45) by
    which that dominant direction is turned from an axis. Scharr's kernels are nearly
    isotropic, so the skew of a code is within ~0.5 degrees."""

    coherence: float
    skew: float


def edge_direction(gray: Gray) -> Direction:
    gx = cv2.Scharr(gray, cv2.CV_32F, 1, 0)
    gy = cv2.Scharr(gray, cv2.CV_32F, 0, 1)
    # The structure tensor summed over the crop.
    jxx, jyy, jxy = float((gx * gx).sum()), float((gy * gy).sum()), float((gx * gy).sum())
    total = jxx + jyy
    if total <= 0.0:
        return Direction(0.0, 0.0)
    # The gradients' direction (across the bars), in image coordinates: y down, so clockwise.
    across = 0.5 * math.degrees(math.atan2(2.0 * jxy, jxx - jyy))
    coherence = math.hypot(jxx - jyy, 2.0 * jxy) / total
    return Direction(coherence, -((across + 45.0) % 90.0 - 45.0))
