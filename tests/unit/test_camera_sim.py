"""The lane camera simulator: frames of the right size, a truck whose plate shows where it
should, and plates that render in Cyrillic as well as in Latin."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from drivers.sim.camera import (
    STOP_FROM,
    STOP_UNTIL,
    lane_sequence,
    missing_glyphs,
    plate_quad,
    render_frame,
    render_plate,
    write_video,
)

SMALL = (640, 360)


def box_of(quad: np.ndarray) -> tuple[slice, slice]:
    x0, y0 = np.floor(quad.min(axis=0)).astype(int)
    x1, y1 = np.ceil(quad.max(axis=0)).astype(int)
    return slice(y0, y1), slice(x0, x1)


@pytest.mark.parametrize("size", [(1280, 720), SMALL, (320, 240)])
def test_frame_has_the_requested_size_in_bgr(size: tuple[int, int]) -> None:
    for t in (None, 0.5):
        frame = render_frame("777 ABC 02", t=t, size=size, rng=np.random.default_rng(0))
        assert frame.shape == (size[1], size[0], 3)
        assert frame.dtype == np.uint8


def test_the_plate_at_the_booth_is_a_white_plate_with_dark_text_where_the_road_was() -> None:
    plate = "777 ABC 02"
    road = render_frame(plate, t=None, size=SMALL, rng=np.random.default_rng(1))
    truck = render_frame(plate, t=0.5, size=SMALL, rng=np.random.default_rng(1))
    rows, cols = box_of(plate_quad(plate, t=0.5, size=SMALL))
    region, before = truck[rows, cols].astype(int), road[rows, cols].astype(int)
    assert region.size > 0
    assert np.abs(region - before).mean() > 40
    grey = region.mean(axis=2)
    assert np.median(grey) > 180  # mostly white plate
    assert (grey < 80).mean() > 0.05  # with black characters on it


def test_a_truck_is_wholly_out_of_view_at_the_start_and_the_end_of_its_pass() -> None:
    road = render_frame("X", t=None, size=SMALL, noise=0)
    assert np.array_equal(render_frame("X", t=0.0, size=SMALL, noise=0), road)
    assert np.array_equal(render_frame("X", t=1.0, size=SMALL, noise=0), road)
    for t in (0.1, STOP_FROM, (STOP_FROM + STOP_UNTIL) / 2, STOP_UNTIL, 0.9):
        assert not np.array_equal(render_frame("X", t=t, size=SMALL, noise=0), road), t


def test_the_truck_stands_still_at_the_booth() -> None:
    first = render_frame("X", t=STOP_FROM, size=SMALL, noise=0)
    last = render_frame("X", t=STOP_UNTIL, size=SMALL, noise=0)
    assert np.array_equal(first, last)


def test_noise_differs_frame_to_frame_but_only_slightly() -> None:
    rng = np.random.default_rng(2)
    a, b = (render_frame("X", t=None, size=SMALL, rng=rng) for _ in range(2))
    difference = np.abs(a.astype(int) - b.astype(int))
    assert 0 < difference.mean() < 6


def test_cyrillic_plate_text_renders_its_glyphs_not_boxes() -> None:
    assert missing_glyphs("А 123 ВС 77 ЖӨҮЯ") == ""
    cyrillic = render_plate("Ж 123 ЯӨ 77")
    unknown = render_plate("? 123 ?? 77")
    assert cyrillic.shape == unknown.shape
    assert np.abs(cyrillic.astype(int) - unknown.astype(int)).sum() > 0
    # The same text with each letter replaced by a code point the font lacks draws boxes.
    tofu = "\U000f0000 123 \U000f0000\U000f0000 77"
    with pytest.raises(ValueError, match="no glyph"):
        render_plate(tofu)


def test_a_plate_the_font_cannot_draw_is_refused_with_the_missing_characters() -> None:
    assert missing_glyphs("京A12345") == "京"
    with pytest.raises(ValueError, match="京"):
        render_plate("京A12345")


def test_country_strip_is_drawn_on_the_left_in_blue() -> None:
    plate = render_plate("777 ABC 02", country="KZ")
    strip = plate[10:-10, 10:40].reshape(-1, 3).mean(axis=0)
    blue, _green, red = strip
    assert blue > 120 > red
    plain = render_plate("777 ABC 02")
    assert plain[10:-10, 10:40].mean() > 200  # white without a country


def test_the_lane_sequence_is_empty_road_around_each_truck() -> None:
    steps = lane_sequence(["A", "B"], fps=10, seconds_per_truck=2, gap_seconds=1)
    assert len(steps) == 10 + 20 + 10 + 20 + 10
    assert steps[:10] == [None] * 10
    assert steps[10] == ("A", 0.0)
    assert steps[29] == ("A", 1.0)
    assert steps[40] == ("B", 0.0)
    assert steps[-10:] == [None] * 10


@pytest.mark.parametrize("suffix", [".avi", ".mp4"])
def test_a_written_video_plays_back_in_opencv(tmp_path: Path, suffix: str) -> None:
    path = write_video(tmp_path / f"lane{suffix}", ["777 ABC 02"], fps=10, seconds_per_truck=1, gap_seconds=0.5, size=(320, 180))  # fmt: skip
    capture = cv2.VideoCapture(str(path))
    frames = []
    while True:
        ok, frame = capture.read()
        if not ok:
            break
        frames.append(frame)
    capture.release()
    assert len(frames) == 5 + 10 + 5
    assert frames[0].shape == (180, 320, 3)


def test_a_video_with_an_unknown_suffix_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"\.avi or \.mp4"):
        write_video(tmp_path / "lane.mkv", ["X"])
