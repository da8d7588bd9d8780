"""The reader's training crops cut through the pipeline (scripts/plate_frame_crops.py): each is a
region the real detector and region builder made around the whole plate, labelled with it."""

from __future__ import annotations

import random

import numpy as np
import pytest

from drivers.plates.regions import LINE_HEIGHT, PlateRegion
from drivers.plates.text_detector import DetectorSettings, TextDetector
from drivers.sim.plates import plate_label
from edge.plate_formats import FORMATS
from scripts.plate_frame_crops import frame_crops, holds_plate


@pytest.fixture(scope="module")
def detector() -> TextDetector:
    return TextDetector(DetectorSettings())


def test_scenes_give_crops_of_the_whole_plate_labelled_with_it(detector: TextDetector) -> None:
    found = 0
    for index, fmt in enumerate(FORMATS):
        rng = random.Random(f"crops:{index}")
        text = fmt.random_plate(rng)
        crops = frame_crops(detector, fmt, text, rng, DetectorSettings().max_side)
        found += bool(crops)
        for crop in crops:
            assert crop.label == plate_label(text)
            assert crop.crop.ndim == 2
            assert crop.crop.shape[0] == LINE_HEIGHT
            assert crop.crop.dtype == np.uint8
    # the detector misses some plates' whole region (those give no crop), not most
    assert found >= len(FORMATS) * 2 // 3


def test_a_region_holds_the_plate_only_when_it_covers_it_and_little_else() -> None:
    plate = np.array([[100, 100], [300, 100], [300, 160], [100, 160]], np.float32)

    def region(x0: float, y0: float, x1: float, y1: float) -> PlateRegion:
        quad = np.array([[x0, y0], [x1, y0], [x1, y1], [x0, y1]], np.float32)
        return PlateRegion((quad,), 0.9)

    assert holds_plate(region(95, 95, 305, 165), plate)  # the plate with a margin
    assert not holds_plate(region(100, 100, 200, 160), plate)  # half of it
    assert not holds_plate(region(0, 0, 600, 400), plate)  # the plate and much besides
