from __future__ import annotations

import numpy as np
import pytest

from drivers.plates.plate_windows import MOST_ENLARGED, PLATE_WIDTH, plate_window


def _quad(x: float, y: float, w: float, h: float) -> np.ndarray:
    return np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)


def test_a_plate_is_read_at_the_width_the_readers_want_with_a_margin() -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    plate = _quad(800, 600, 160, 40)
    window = plate_window(frame, plate)
    assert window.scale == pytest.approx(PLATE_WIDTH / 161, rel=0.02)
    inside = window.to_window(plate)
    height, width = window.image.shape[:2]
    # the plate sits inside the window with background all round
    assert inside[:, 0].min() > 0.2 * width
    assert inside[:, 0].max() < 0.8 * width
    assert inside[:, 1].min() > 0.2 * height
    assert inside[:, 1].max() < 0.8 * height


def test_window_and_frame_coordinates_are_one_mapping() -> None:
    frame = np.zeros((480, 640, 3), np.uint8)
    window = plate_window(frame, _quad(100, 200, 90, 30))
    quad = _quad(12.5, 7.25, 40, 11)
    assert np.allclose(window.to_window(window.to_frame(quad)), quad, atol=1e-3)


def test_a_plate_at_the_frame_edge_gives_a_window_within_the_frame() -> None:
    frame = np.full((300, 400, 3), 7, np.uint8)
    window = plate_window(frame, _quad(-10, 280, 120, 40))
    assert window.left == 0
    assert window.top >= 0
    assert window.image.size > 0
    assert (window.image == 7).all()


def test_a_tiny_distant_plate_is_enlarged_only_so_far() -> None:
    frame = np.zeros((1080, 1920, 3), np.uint8)
    window = plate_window(frame, _quad(50, 50, 20, 6))
    assert window.scale == MOST_ENLARGED
