from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from drivers.plates.calibration import (
    CALIBRATION,
    Calibration,
    expected_calibration_error,
    fit,
    load_calibration,
)


def _overconfident(n: int, seed: int) -> tuple[list[float], list[bool]]:
    """Reads whose raw confidence says 0.95 where they are right 70% of the time, and 0.5
    where they are right 20%: a reader sure of itself on plates unlike its training."""
    rng = random.Random(seed)
    raw, right = [], []
    for _ in range(n):
        sure = rng.random() < 0.5
        raw.append(0.95 if sure else 0.5)
        right.append(rng.random() < (0.7 if sure else 0.2))
    return raw, right


def test_the_curve_learns_how_often_a_confidence_is_right() -> None:
    raw, right = _overconfident(2000, seed=1)
    curve = fit(raw, right)
    assert curve(0.95) == pytest.approx(0.7, abs=0.05)
    assert curve(0.5) == pytest.approx(0.2, abs=0.05)
    held_raw, held_right = _overconfident(2000, seed=2)
    before = expected_calibration_error(held_raw, held_right)
    after = expected_calibration_error([curve(c) for c in held_raw], held_right)
    assert before > 0.2 > 0.05 > after


def test_the_curve_never_reorders_candidates() -> None:
    curve = fit(*_overconfident(500, seed=3))
    points = [i / 100 for i in range(101)]
    mapped = [curve(p) for p in points]
    assert mapped == sorted(mapped)
    assert all(0.0 <= m <= 1.0 for m in mapped)


def test_a_set_with_no_miss_gives_no_certainty() -> None:
    curve = fit([0.9] * 20, [True] * 20)
    assert 0.9 < curve(0.9) < 1.0


def test_fit_refuses_mismatched_or_empty_outcomes() -> None:
    with pytest.raises(ValueError, match="as many outcomes"):
        fit([0.5, 0.6], [True])
    with pytest.raises(ValueError, match="at least one"):
        fit([], [])


def test_without_a_card_confidences_stay_as_read(tmp_path: Path) -> None:
    assert load_calibration(tmp_path) == Calibration()
    assert Calibration()(0.37) == pytest.approx(0.37)


def test_the_card_is_read(tmp_path: Path) -> None:
    (tmp_path / CALIBRATION).write_text(json.dumps({"slope": 0.5, "intercept": -1.0}))
    curve = load_calibration(tmp_path)
    assert curve == Calibration(0.5, -1.0)
    assert curve(0.5) == pytest.approx(1 / (1 + 2.718281828**1.0), abs=1e-6)
