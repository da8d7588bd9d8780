"""Affine maps from the pixels of an image the decoders were given (a crop, a turned copy, an
enlargement) back to the pixels of the caller's image, so that every position is the caller's."""

from __future__ import annotations

import cv2
import numpy as np
import numpy.typing as npt

from drivers.codes.backends import Point, RawCode
from drivers.codes.images import Gray

Affine = npt.NDArray[np.float64]  # 2x3
IDENTITY: Affine = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])


def translation(dx: float, dy: float) -> Affine:
    return np.array([[1.0, 0.0, dx], [0.0, 1.0, dy]])


def then(first: Affine, second: Affine) -> Affine:
    """The map that applies `first`, then `second`."""
    out: Affine = second[:, :2] @ first
    out[:, 2] += second[:, 2]
    return out


def rotate(gray: Gray, center: tuple[float, float], degrees: float) -> tuple[Gray, Affine]:
    """`gray` turned by `degrees` about `center` onto a canvas that keeps every corner, and
    the map from the turned image's pixels back to `gray`'s."""
    height, width = gray.shape
    matrix = cv2.getRotationMatrix2D(center, degrees, 1.0)
    corners = np.array([[0, 0, 1], [width, 0, 1], [width, height, 1], [0, height, 1]], float)
    turned = corners @ matrix.T
    low = turned.min(axis=0)
    matrix[:, 2] -= low
    new_width, new_height = (np.ceil(turned.max(axis=0) - low)).astype(int)
    rotated = cv2.warpAffine(
        gray, matrix, (int(new_width), int(new_height)), flags=cv2.INTER_LINEAR, borderValue=255
    )
    return np.ascontiguousarray(rotated), cv2.invertAffineTransform(matrix).astype(np.float64)


def mapped(code: RawCode, affine: Affine) -> RawCode:
    """`code` with its polygon carried by `affine`."""
    if not code.polygon:
        return code
    points = np.array([[x, y, 1.0] for x, y in code.polygon]) @ affine.T
    polygon: tuple[Point, ...] = tuple((round(float(x)), round(float(y))) for x, y in points)
    return RawCode(format=code.format, text=code.text, decoder=code.decoder, polygon=polygon)
