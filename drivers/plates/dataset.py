"""Labelled plate photographs in the common ALPR benchmark format: beside each image a
`NAME.txt` holding one line `NAME.jpg x y w h PLATE` (tab- or space-separated), the plate's
bounding box in pixels and its text as written."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".bmp")


class Annotation(NamedTuple):
    """One line of the ALPR benchmark format: `NAME.jpg x y w h PLATE`."""

    image: str
    x: int
    y: int
    width: int
    height: int
    plate: str


class DatasetError(ValueError):
    """A dataset that is not in the format, named with the file and the reason."""


def read_annotation(path: str | Path) -> Annotation:
    """The annotation in a benchmark `NAME.txt`."""
    fields = Path(path).read_text(encoding="utf-8").split()
    if len(fields) != 6:
        raise DatasetError(f"{path}: want `NAME.jpg x y w h PLATE`, got {len(fields)} fields")
    name, x, y, width, height, plate = fields
    try:
        return Annotation(name, int(x), int(y), int(width), int(height), plate)
    except ValueError:
        raise DatasetError(f"{path}: x y w h must be whole numbers") from None


def labelled_images(directory: str | Path) -> Iterator[tuple[Path, Annotation]]:
    """Each image of the directory that has a label, in name order; an image without one is
    skipped (a set may hold unlabelled frames), a malformed label is an error."""
    root = Path(directory)
    if not root.is_dir():
        raise DatasetError(f"{root}: not a directory")
    for image in sorted(p for p in root.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES):
        label = image.with_suffix(".txt")
        if label.is_file():
            yield image, read_annotation(label)
