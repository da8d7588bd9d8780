"""The retries' image fixes: a blurred code sharpened, an unevenly lit one binarised."""

from __future__ import annotations

import cv2
import numpy as np

from drivers.codes.images import Gray


def sharpen(gray: Gray) -> Gray:
    """An unsharp mask: edges a slightly defocused camera softened, steepened again."""
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return np.ascontiguousarray(cv2.addWeighted(gray, 2.0, blurred, -1.0, 0))


def binarise(gray: Gray) -> Gray:
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return np.ascontiguousarray(binary)
