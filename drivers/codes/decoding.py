"""`decode_image`: every code in an image, read by zbar first and zxing-cpp for the rest; when
nothing is found, a few cheap retries (sharpened, binarised, enlarged, deskewed)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np
import numpy.typing as npt

from drivers.codes.backends import Point, RawCode, merge, read_zbar, read_zxing
from drivers.codes.images import Gray, ImageSource, load_gray

Affine = npt.NDArray[np.float64]  # 2x3, from a variant's pixels back to the input's
_IDENTITY: Affine = np.array([[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])

UPSCALE_MAX_SIDE = 1200  # enlarge small images only; a 1080p frame has pixels enough
DESKEW_MIN_DEGREES = 3.0  # both decoders cope with less; PDF417 and long 1D codes not with more
DESKEW_REGIONS = 3


@dataclass(frozen=True)
class DecodedCode:
    format: str  # normalised: "qr", "code128", "pdf417", "datamatrix", "aztec", "ean13", ...
    text: str
    decoder: str  # "zbar" or "zxing-cpp"
    position: tuple[Point, ...] = ()  # the symbol's corners in the input image's pixels

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"format": self.format, "text": self.text, "decoder": self.decoder}
        if self.position:
            out["position"] = [list(point) for point in self.position]
        return out


def decode_image(source: ImageSource, *, retry: bool = True) -> list[DecodedCode]:
    """Every code found in `source` (a path, image file bytes, or a BGR/BGRA/gray array).

    When nothing is found and `retry` is set, the image is tried again sharpened, binarised,
    enlarged and deskewed (up to ~0.5 s more on a 1080p frame; a live stream may skip that).
    Raises `ImageError` when `source` is not a readable image; an image without codes is []."""
    gray = load_gray(source)
    variants = _variants(gray) if retry else iter([(gray, _IDENTITY)])
    for image, to_input in variants:
        found = merge(read_zbar(image), read_zxing(image))
        if found:
            return [_in_input_pixels(code, to_input) for code in found]
    return []


def _variants(gray: Gray) -> Iterator[tuple[Gray, Affine]]:
    """The image as given, then the retries, each with its way back to the input's pixels."""
    yield gray, _IDENTITY
    sharp = _sharpen(gray)
    yield sharp, _IDENTITY
    yield _binarise(sharp), _IDENTITY
    if max(gray.shape) <= UPSCALE_MAX_SIDE:
        enlarged = cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        yield np.ascontiguousarray(enlarged), _IDENTITY * 0.5
    for center, degrees in _skewed_regions(gray):
        yield _rotate(gray, center, degrees)


def _sharpen(gray: Gray) -> Gray:
    blurred = cv2.GaussianBlur(gray, (0, 0), 2.0)
    return np.ascontiguousarray(cv2.addWeighted(gray, 2.0, blurred, -1.0, 0))


def _binarise(gray: Gray) -> Gray:
    _, binary = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    return np.ascontiguousarray(binary)


def _skewed_regions(gray: Gray) -> list[tuple[tuple[float, float], float]]:
    """(center, degrees) of the largest dark blobs (bars and modules closed into one) that sit
    at an angle; small skews are left to the decoders."""
    _, dark = cv2.threshold(
        cv2.GaussianBlur(gray, (5, 5), 0), 0, 255, cv2.THRESH_BINARY_INV | cv2.THRESH_OTSU
    )
    size = max(3, min(gray.shape) // 40)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (size, size))
    closed = cv2.morphologyEx(dark, cv2.MORPH_CLOSE, kernel)
    contours, _ = cv2.findContours(closed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_area = 0.002 * gray.shape[0] * gray.shape[1]
    regions: list[tuple[tuple[float, float], float]] = []
    for contour in sorted(contours, key=cv2.contourArea, reverse=True)[:DESKEW_REGIONS]:
        if cv2.contourArea(contour) < min_area:
            break
        center, _, angle = cv2.minAreaRect(contour)
        degrees = float(angle) % 90.0
        if degrees > 45.0:
            degrees -= 90.0
        if abs(degrees) >= DESKEW_MIN_DEGREES:
            regions.append(((float(center[0]), float(center[1])), degrees))
    return regions


def _rotate(gray: Gray, center: tuple[float, float], degrees: float) -> tuple[Gray, Affine]:
    """`gray` turned by `degrees` about `center` onto a canvas that keeps every corner."""
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


def _in_input_pixels(code: RawCode, to_input: Affine) -> DecodedCode:
    position: tuple[Point, ...] = ()
    if code.polygon:
        points = np.array([[x, y, 1.0] for x, y in code.polygon]) @ to_input.T
        position = tuple((round(float(x)), round(float(y))) for x, y in points)
    return DecodedCode(format=code.format, text=code.text, decoder=code.decoder, position=position)
