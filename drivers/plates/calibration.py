"""What a read's confidence means on a real camera: the readers' probability of a text is
calibrated so that, of the plates read with confidence 0.9, nine in ten are right on real
photographs, not on the renderer's plates the readers learnt from.

Platt scaling (a logistic curve on the logit of the raw confidence, two parameters): fitted by
scripts/calibrate_plates.py on the tuning part of the real labelled sets, judged on their
reporting part; it is monotone, so it never reorders a frame's candidates. Two parameters fit
on a few hundred frames without following their noise, where binning or isotonic regression
would."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from drivers.plates.plate_reader import MODELS

CALIBRATION = "plate_calibration.json"
_EDGE = 1e-6  # raw confidences are clipped this far from 0 and 1 before the logit
# A pull towards the identity worth about one read: where the reads cannot tell the slope
# from the intercept (all of one confidence), the curve stays the nearest to "as read".
RIDGE = 1.0


@dataclass(frozen=True)
class Calibration:
    slope: float = 1.0
    intercept: float = 0.0  # the identity: an uncalibrated pipeline's confidences as read

    def __call__(self, raw: float) -> float:
        return _sigmoid(self.slope * _logit(raw) + self.intercept)


def load_calibration(models: Path = MODELS) -> Calibration:
    """The shipped calibration, or the identity when there is none (a model being trained)."""
    path = models / CALIBRATION
    if not path.is_file():
        return Calibration()
    card = json.loads(path.read_text(encoding="utf-8"))
    return Calibration(float(card["slope"]), float(card["intercept"]))


def fit(raw: Sequence[float], right: Sequence[bool], steps: int = 50) -> Calibration:
    """The Platt curve that best predicts `right` from `raw` (Newton's method on the log loss,
    with Platt's smoothed targets so that a set with no miss does not drive the curve to a step,
    and RIDGE)."""
    if len(raw) != len(right) or not raw:
        raise ValueError("fit needs as many outcomes as confidences, and at least one")
    positives = sum(right)
    high = (positives + 1) / (positives + 2)
    low = 1 / (len(right) - positives + 2)
    targets = [high if r else low for r in right]
    xs = [_logit(p) for p in raw]

    def loss(a: float, b: float) -> float:
        total = RIDGE * ((a - 1) ** 2 + b**2) / 2
        for x, t in zip(xs, targets, strict=True):
            z = a * x + b  # log(1 + e^z) - t z, written to stay finite for any z
            total += max(z, 0.0) + math.log1p(math.exp(-abs(z))) - t * z
        return total

    a, b = 1.0, 0.0
    for _ in range(steps):
        ga, gb = RIDGE * (a - 1), RIDGE * b
        haa, hab, hbb = RIDGE, 0.0, RIDGE
        for x, t in zip(xs, targets, strict=True):
            p = _sigmoid(a * x + b)
            d, w = p - t, max(p * (1 - p), 1e-12)
            ga, gb = ga + d * x, gb + d
            haa, hab, hbb = haa + w * x * x, hab + w * x, hbb + w
        det = haa * hbb - hab * hab
        da, db = (hbb * ga - hab * gb) / det, (haa * gb - hab * ga) / det
        before, step = loss(a, b), 1.0
        while step > 1e-6 and loss(a - step * da, b - step * db) > before:
            step /= 2  # a full Newton step can overshoot where the curve is flat
        a, b = a - step * da, b - step * db
        if abs(step * da) + abs(step * db) < 1e-9:
            break
    return Calibration(a, b)


def expected_calibration_error(
    confidence: Sequence[float], right: Sequence[bool], bins: int = 10
) -> float:
    """The mean gap between confidence and accuracy over equal-width confidence bins, weighted
    by how many reads fall in each."""
    if not confidence:
        return 0.0
    total = 0.0
    for k in range(bins):
        inside = [
            (c, r)
            for c, r in zip(confidence, right, strict=True)
            if k / bins <= c < (k + 1) / bins or (k == bins - 1 and c == 1.0)
        ]
        if inside:
            mean_confidence = sum(c for c, _ in inside) / len(inside)
            accuracy = sum(r for _, r in inside) / len(inside)
            total += len(inside) * abs(mean_confidence - accuracy)
    return total / len(confidence)


def _sigmoid(z: float) -> float:
    if z >= 0:
        return 1 / (1 + math.exp(-z))
    e = math.exp(z)
    return e / (1 + e)


def _logit(p: float) -> float:
    p = min(1 - _EDGE, max(_EDGE, p))
    return math.log(p / (1 - p))
