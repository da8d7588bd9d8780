"""A window of the frame around one plate the plate detector found, at the scale the text
pipeline reads best: the plate's lines are found and read inside it, as if it were a frame.

The window keeps a margin around the detector's box: the box can stop short of a region code
or a two-line plate's top line, and the text detector needs background around a line to find
its edges. Small plates are enlarged so their characters reach the height the readers were
trained at; large ones are reduced, which costs nothing in accuracy and keeps the text detector
cheap."""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from drivers.plates.text_detector import BGR, Quad

MARGIN_X = 0.5  # the window reaches this share of the plate's width beyond it, each side
MARGIN_Y = 0.5  # ... and this share of its height above and below
PLATE_WIDTH = 180  # the plate's width in the window, pixels
# Window geometry by ablation on the real sets' tuning part (248 frames, issue 13, plate
# detector + retrained reader): against 240 px and a 0.8 margin, Top-1 RU 34 -> 35, CN 61 -> 63,
# US 89 -> 90 frames, KZ and MN unchanged, CPU median 30-35% lower (a smaller window for the
# text detector). Plate widths 180, 210, 240 and 300 alone moved single sets by 1-6 frames
# either way: the readers do not care much at what width a plate is, the CPU does.
MOST_ENLARGED = 3.0  # a tiny, distant plate is enlarged at most this much


@dataclass(frozen=True)
class PlateWindow:
    image: BGR
    left: int  # where the window's (0, 0) is in the frame
    top: int
    scale: float  # window pixels per frame pixel

    def to_window(self, quad: Quad) -> Quad:
        """A quad of the frame in window pixels."""
        offset = np.array([self.left, self.top], np.float32)
        return ((quad - offset) * self.scale).astype(np.float32)

    def to_frame(self, quad: Quad) -> Quad:
        """A quad of the window in frame pixels."""
        offset = np.array([self.left, self.top], np.float32)
        return (quad / self.scale + offset).astype(np.float32)


def plate_window(frame: BGR, quad: Quad) -> PlateWindow:
    """The window of `frame` around the plate `quad` (frame pixels)."""
    height, width = frame.shape[:2]
    x, y, w, h = cv2.boundingRect(quad.astype(np.float32))
    w, h = max(w, 1), max(h, 1)
    left = max(0, int(x - MARGIN_X * w))
    top = max(0, int(y - MARGIN_Y * h))
    right = min(width, int(x + w + MARGIN_X * w) + 1)
    bottom = min(height, int(y + h + MARGIN_Y * h) + 1)
    scale = min(MOST_ENLARGED, PLATE_WIDTH / w)
    crop = frame[top:bottom, left:right]
    size = (max(1, round(crop.shape[1] * scale)), max(1, round(crop.shape[0] * scale)))
    method = cv2.INTER_CUBIC if scale > 1 else cv2.INTER_AREA
    image = np.ascontiguousarray(cv2.resize(crop, size, interpolation=method), np.uint8)
    return PlateWindow(image, left, top, scale)
