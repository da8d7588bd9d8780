"""The reader's real training crops (scripts/plate_real_crops.py): the label's box becomes the
lines the pipeline would hand over, and a crop is kept only when a reading of it can be the
label misread, not half of it or the plate with the make beside it."""

from __future__ import annotations

import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "scripts"))

from plate_real_crops import aligned, label_box_regions  # type: ignore[import-not-found]


def test_a_misread_whole_plate_aligns_with_its_label() -> None:
    assert aligned("E014CX86", "E014CX86")
    assert aligned("E014CX66", "E014CX86")  # one digit misread
    assert aligned("3386YET", "3386YБT")  # a Mongolian letter read as its Latin look-alike


def test_half_a_plate_or_a_plate_with_its_neighbour_does_not_align() -> None:
    assert not aligned("86", "E014CX86")  # the region code alone
    assert not aligned("E014", "E014CX86")
    assert not aligned("PRADO150ODA02", "150ODA02")  # the make's badge in the region
    assert not aligned("XYZW1234", "E014CX86")  # another line of writing


def test_a_wide_box_is_one_line_and_a_square_one_also_two() -> None:
    rng = random.Random(1)
    (wide,) = label_box_regions((100, 100, 300, 60), rng, jittered=False)
    assert len(wide.lines) == 1
    one, two = label_box_regions((100, 100, 150, 100), rng, jittered=False)
    assert len(one.lines) == 1
    assert len(two.lines) == 2
    top, bottom = two.lines
    assert top[:, 1].mean() < bottom[:, 1].mean()  # the top line is read first
    assert top[:, 1].min() >= 100
    assert bottom[:, 1].max() <= 200


def test_jittered_boxes_differ_and_stay_near_the_label_box() -> None:
    rng = random.Random(2)
    quads = [label_box_regions((100, 100, 300, 60), rng)[0].lines[0] for _ in range(5)]
    assert len({q.tobytes() for q in quads}) == 5
    for quad in quads:
        assert quad[:, 0].min() >= 90
        assert quad[:, 0].max() <= 410
