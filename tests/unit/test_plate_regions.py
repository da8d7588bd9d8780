"""Text boxes become plate regions: pieces of one line joined, two stacked lines paired."""

from __future__ import annotations

import numpy as np

from drivers.plates.regions import (
    LINE_HEIGHT,
    line_image,
    plate_likeness,
    plate_regions,
    with_line_above,
)
from drivers.plates.text_detector import TextBox


def box(x: float, y: float, w: float, h: float, score: float = 0.9) -> TextBox:
    quad = np.array([[x, y], [x + w, y], [x + w, y + h], [x, y + h]], np.float32)
    return TextBox(quad, score)


def widths(region_lines: tuple[np.ndarray, ...]) -> list[float]:
    return [float(q[:, 0].max() - q[:, 0].min()) for q in region_lines]


def test_pieces_of_one_plate_line_are_joined_and_far_text_is_not() -> None:
    pieces = [box(100, 200, 30, 20), box(140, 201, 20, 20), box(170, 199, 50, 20)]
    caption = box(600, 200, 80, 20)
    regions = plate_regions([*pieces, caption])
    joined = [r for r in regions if len(r.lines) == 1 and widths(r.lines)[0] > 110]
    assert len(joined) == 1
    assert abs(widths(joined[0].lines)[0] - 120) < 2  # 100 .. 220, the pieces a little tilted
    assert any(abs(float(r.quad[:, 0].min()) - 600) < 1 for r in regions)  # caption alone


def test_two_stacked_lines_make_a_two_line_region_and_stay_candidates_alone() -> None:
    top, bottom = box(100, 100, 60, 24), box(95, 130, 70, 24)
    regions = plate_regions([top, bottom])
    assert sorted(len(r.lines) for r in regions) == [1, 1, 2]
    pair = next(r for r in regions if len(r.lines) == 2)
    assert float(pair.lines[0][:, 1].mean()) < float(pair.lines[1][:, 1].mean())  # top first


def test_a_two_line_region_is_read_as_one_line_top_then_bottom() -> None:
    frame = np.zeros((300, 300, 3), np.uint8)
    frame[100:124, 100:160] = 255  # the top line white, the bottom one grey
    frame[130:154, 95:165] = 128
    pair = next(r for r in plate_regions([box(100, 100, 60, 24), box(95, 130, 70, 24)])
                if len(r.lines) == 2)  # fmt: skip
    line = line_image(frame, pair)
    assert line.shape[0] == LINE_HEIGHT
    half = line.shape[1] * 60 // 130
    assert line[:, : half - 5].mean() > line[:, half + 5 :].mean()  # white part left


def test_long_captions_rank_below_plate_shaped_lines() -> None:
    plate = box(100, 400, 110, 30, score=0.8)
    date_stamp = box(10, 10, 500, 20, score=0.95)
    assert plate_regions([date_stamp, plate])[0].lines[0][0, 0] == 100


def test_a_smaller_region_code_beside_the_plate_is_joined_as_another_candidate() -> None:
    # a Russian plate: "M 977 CB" 60 px high, its region code "86" 34 px high just right of it
    main, code = box(400, 470, 210, 60), box(605, 476, 48, 34)
    regions = plate_regions([main, code])
    spans = sorted((round(float(r.quad[:, 0].min())), round(float(r.quad[:, 0].max())))
                   for r in regions)  # fmt: skip
    assert spans == [(400, 610), (400, 653), (605, 653)]  # both alone, and joined
    far_below = box(605, 560, 48, 34)  # the same piece under the plate is not its region code
    assert len(plate_regions([main, far_below])) == 2


def test_a_two_line_plate_is_as_plate_like_as_a_one_line_plate() -> None:
    # a Chinese two-line plate: a short top line over a wide bottom line; both read together
    # must not lose to the bottom line read alone (half of the plate, no format)
    top, bottom = box(318, 356, 45, 30), box(263, 375, 152, 58)
    pair = next(r for r in plate_regions([top, bottom]) if len(r.lines) == 2)
    assert plate_likeness(pair) == 1.0
    assert all(plate_likeness(r) < 1.0 for r in plate_regions([top, bottom]) if r.stacked)


def test_a_line_gets_the_place_of_a_smaller_top_line_above_it() -> None:
    # a Chinese two-line plate whose small top line ("新Q") the detector missed
    (line,) = plate_regions([box(487, 512, 140, 54)])
    pair = with_line_above(line)
    top, bottom = pair.lines
    assert np.array_equal(bottom, line.lines[0])
    assert float(top[:, 1].max()) < 512 + 54 / 2 < float(bottom[:, 1].max())  # above the middle
    assert float(top[:, 1].min()) < 512  # reaching above the box
    assert 487 < float(top[:, 0].min()) < float(top[:, 0].max()) < 487 + 140  # centred, narrower
    # elsewhere a square plate's top line is as tall as its bottom line (UZ "40" over "2438 SY")
    tall_top, _ = with_line_above(line, as_tall=True).lines
    assert float(tall_top[:, 1].min()) < 512 - 54 * 0.8  # a line's height above the box
    assert float(tall_top[:, 1].max()) < 512 + 54 / 2
    assert float(np.ptp(tall_top[:, 0])) > float(np.ptp(top[:, 0]))  # and wider


def test_two_lines_of_digits_only_are_a_hazard_panel_not_a_plate() -> None:
    # the orange ADR panel of a tanker: "80" over "1824"; a two-line plate has letters
    from drivers.plates.recognizer import read_prior

    pair = next(r for r in plate_regions([box(100, 100, 40, 24), box(95, 128, 70, 24)])
                if len(r.lines) == 2)  # fmt: skip
    assert read_prior(pair, "80 1824", 1.0) < 0.2
    assert read_prior(pair, "543LQ03", 1.0) == 1.0  # a Kazakh two-line plate
    (line,) = plate_regions([box(95, 128, 70, 24)])
    assert read_prior(line, "1824", 1.0) == 1.0  # one line of digits: a US plate may be that


def test_a_taller_box_above_a_line_is_a_sign_not_the_plate_top_line() -> None:
    # a hazard panel's two lines boxed as one, right above a plate whose top line was missed
    panel, line = box(100, 40, 90, 60), box(95, 104, 120, 40)
    assert all(len(r.lines) == 1 for r in plate_regions([panel, line]))
    # a top line as tall as the bottom one, or smaller, still pairs
    for top in (box(120, 62, 60, 40), box(130, 74, 50, 26)):
        assert any(len(r.lines) == 2 for r in plate_regions([top, line]))
