"""Where the text is in a frame: PP-OCR's DB text detector on a downscaled frame, and its
probability map turned into rotated boxes.

Plates are read from their boxes, so the detector only has to find text lines; telling a plate
from a company name on the cab is left to the format grammars after reading."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.onnx_models import PPOCR_DETECTOR, ppocr_model, session

BGR: TypeAlias = npt.NDArray[np.uint8]
Quad: TypeAlias = npt.NDArray[np.float32]  # four corners (x, y): top-left, top-right, ...


@dataclass(frozen=True)
class TextBox:
    quad: Quad  # in frame pixels, clockwise from the top-left corner
    score: float  # mean text probability inside the box

    @property
    def height(self) -> float:
        q = self.quad
        return float(np.linalg.norm(q[3] - q[0]) + np.linalg.norm(q[2] - q[1])) / 2

    @property
    def width(self) -> float:
        q = self.quad
        return float(np.linalg.norm(q[1] - q[0]) + np.linalg.norm(q[2] - q[3])) / 2


@dataclass(frozen=True)
class DetectorSettings:
    max_side: int = 640  # the frame's long side is scaled to this (a multiple of 32)
    threshold: float = 0.3  # a pixel is text above this probability
    box_threshold: float = 0.5  # a box is kept when its mean probability is above this
    unclip: float = 1.6  # DB shrinks text regions in training; grow them back by this ratio
    min_height: float = 6.0  # boxes lower than this (frame pixels) cannot hold a readable plate
    max_boxes: int = 60


class TextDetector:
    def __init__(self, settings: DetectorSettings | None = None) -> None:
        self.settings = settings or DetectorSettings()
        self._session = session(ppocr_model(PPOCR_DETECTOR))
        self._input = self._session.get_inputs()[0].name

    def detect(self, frame: BGR, max_side: int | None = None) -> list[TextBox]:
        """Text boxes in the frame, scaled so its long side is at most `max_side` pixels."""
        height, width = frame.shape[:2]
        scale = min(1.0, (max_side or self.settings.max_side) / max(height, width))
        size = (_multiple_of_32(width * scale), _multiple_of_32(height * scale))
        small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
        tensor = (small.astype(np.float32) * (2 / 255) - 1).transpose(2, 0, 1)[None]
        probability = self._session.run(None, {self._input: tensor})[0][0, 0]
        boxes = self._boxes(probability)
        factor = np.array([width / size[0], height / size[1]], dtype=np.float32)
        return [
            TextBox((box.quad * factor).astype(np.float32), box.score)
            for box in boxes
            if box.height * float(factor[1]) >= self.settings.min_height
        ]

    def _boxes(self, probability: npt.NDArray[np.float32]) -> list[TextBox]:
        binary = (probability > self.settings.threshold).astype(np.uint8)
        mask = cv2.dilate(binary, np.ones((2, 2), np.uint8))
        contours, _ = cv2.findContours(mask, cv2.RETR_LIST, cv2.CHAIN_APPROX_SIMPLE)
        found: list[TextBox] = []
        for contour in contours[: self.settings.max_boxes * 4]:
            if len(contour) < 4:
                continue
            (cx, cy), (w, h), angle = cv2.minAreaRect(contour)
            if min(w, h) < 2:
                continue
            score = _mean_inside(probability, np.asarray(contour, np.int32))
            if score < self.settings.box_threshold:
                continue
            grow = w * h * self.settings.unclip / (2 * (w + h))  # DB's unclip distance
            corners = cv2.boxPoints(((cx, cy), (w + 2 * grow, h + 2 * grow), angle))
            quad = ordered_corners(np.asarray(corners, np.float32))
            found.append(TextBox(quad, score))
        found.sort(key=lambda box: -box.score)
        return found[: self.settings.max_boxes]


def _multiple_of_32(value: float) -> int:
    return max(32, round(value / 32) * 32)


def _mean_inside(probability: npt.NDArray[np.float32], contour: npt.NDArray[np.int32]) -> float:
    x, y, w, h = cv2.boundingRect(contour)
    mask = np.zeros((h, w), np.uint8)
    cv2.fillPoly(mask, [contour.reshape(-1, 2) - (x, y)], 1)
    return float(cv2.mean(probability[y : y + h, x : x + w], mask)[0])


def ordered_corners(points: npt.NDArray[np.float32]) -> Quad:
    """Corners clockwise from the top-left, so a box reads left to right whatever its angle."""
    points = points[np.argsort(points[:, 0])]
    left, right = points[:2], points[2:]
    top_left, bottom_left = left[np.argsort(left[:, 1])]
    top_right, bottom_right = right[np.argsort(right[:, 1])]
    return np.array([top_left, top_right, bottom_right, bottom_left], dtype=np.float32)
