"""`decode_image`: every code in an image, read by zbar first and zxing-cpp for the rest; when
nothing is found, a few cheap retries (sharpened, binarised, enlarged, deskewed).

A large frame (a camera's, a document scanner's) is first read region by region
(`in_regions`): ~20 ms on one core where both decoders over the whole 1080p frame take ~170;
when no region yields a code, the regions again sharpened (a small code a little out of
focus). Only then is the whole frame read as a small image is, so a code the regions miss (an
inverted one, one cut across two regions) is still read, only slower."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import cv2
import numpy as np

from drivers.codes.backends import Point, RawCode, merge, read_zbar, read_zxing
from drivers.codes.enhance import binarise, sharpen
from drivers.codes.geometry import IDENTITY, Affine, mapped, rotate
from drivers.codes.images import Gray, ImageSource, load_gray
from drivers.codes.in_regions import DESKEW_MIN_DEGREES, read_regions

UPSCALE_MAX_SIDE = 1200  # enlarge small images only; a 1080p frame has pixels enough
DESKEW_REGIONS = 3
WHOLE_IMAGE_PIXELS = 800 * 600  # up to this, both decoders read the whole image in < 25 ms


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
    if gray.size > WHOLE_IMAGE_PIXELS:
        in_regions = read_regions(gray) or (read_regions(gray, sharpened=True) if retry else [])
        if in_regions:
            return [_decoded(code) for code in in_regions]
    variants = _variants(gray) if retry else iter([(gray, IDENTITY)])
    for image, to_input in variants:
        found = merge(read_zbar(image), read_zxing(image))
        if found:
            return [_decoded(mapped(code, to_input)) for code in found]
    return []


def _decoded(code: RawCode) -> DecodedCode:
    return DecodedCode(
        format=code.format, text=code.text, decoder=code.decoder, position=code.polygon
    )


def _variants(gray: Gray) -> Iterator[tuple[Gray, Affine]]:
    """The image as given, then the retries, each with its way back to the input's pixels."""
    yield gray, IDENTITY
    sharp = sharpen(gray)
    yield sharp, IDENTITY
    yield binarise(sharp), IDENTITY
    if max(gray.shape) <= UPSCALE_MAX_SIDE:
        enlarged = cv2.resize(gray, None, fx=2.0, fy=2.0, interpolation=cv2.INTER_CUBIC)
        yield np.ascontiguousarray(enlarged), IDENTITY * 0.5
    for center, degrees in _skewed_regions(gray):
        yield rotate(gray, center, degrees)


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
