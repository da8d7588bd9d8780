"""Training crops cut the way the box cuts them: a lane scene is rendered, the real detector
finds its text, the real region builder forms plate regions, and every region that holds the
whole plate becomes a crop through the runtime's own `line_image` (and its stretched twin, which
the recogniser reads when no plate is sure).

Rendered crops (`drivers.sim.plates.training_crop`) are cut from the plate itself with jittered
margins; these carry what only the pipeline does to a plate: the detector's box stopping at a
boxed-off region code, a perspective rectified by a box that is not quite the plate's, a
two-line plate's lines cut by their own boxes. Slower (a detection a frame), so fewer."""

from __future__ import annotations

import random
from dataclasses import dataclass

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.regions import PlateRegion, line_image, plate_regions, stretched
from drivers.plates.text_detector import Quad, TextDetector
from drivers.sim.plates import DATASET_JPEG_QUALITY, plate_label, render_scene
from edge.plate_formats import PlateFormat

Grey = npt.NDArray[np.uint8]

HOLDS = 0.85  # a region holds the plate when it covers this share of the plate's area
WITHIN = 0.45  # ... and the plate is at least this share of the region (not a plate and a sign)


@dataclass(frozen=True)
class FrameCrop:
    crop: Grey
    label: str


def frame_crops(
    detector: TextDetector, fmt: PlateFormat, text: str, rng: random.Random, max_side: int
) -> list[FrameCrop]:
    """The crops the recogniser would read of a rendered scene of plate `text`, labelled; the
    frame is stored and read back as the benchmark's labelled sets are."""
    frame, quad = render_scene(text, fmt, rng, strength=rng.uniform(0.0, 0.9))
    ok, jpeg = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, DATASET_JPEG_QUALITY])
    decoded = cv2.imdecode(jpeg, cv2.IMREAD_COLOR) if ok else None
    if decoded is not None:
        frame = np.asarray(decoded, np.uint8)
    label = plate_label(text)
    regions = plate_regions(detector.detect(frame, max_side), limit=8)
    out = []
    for region in regions:
        if not holds_plate(region, quad):
            continue
        variants = [region]
        if len(region.lines) == 1:
            variants.append(stretched(region))
        for variant in variants:
            grey = cv2.cvtColor(line_image(frame, variant), cv2.COLOR_BGR2GRAY)
            out.append(FrameCrop(np.asarray(grey, np.uint8), label))
    return out


def holds_plate(
    region: PlateRegion, plate: Quad, holds: float = HOLDS, within: float = WITHIN
) -> bool:
    """Whether the region covers `holds` of the plate's area and the plate is `within` of the
    region's (a region that is a plate and the sign beside it is not a plate crop)."""
    plate_area = abs(float(cv2.contourArea(plate.astype(np.float32))))
    region_area = abs(float(cv2.contourArea(region.quad.astype(np.float32))))
    if plate_area <= 0 or region_area <= 0:
        return False
    shared, _ = cv2.intersectConvexConvex(region.quad.astype(np.float32), plate.astype(np.float32))
    return shared >= holds * plate_area and shared >= within * region_area
