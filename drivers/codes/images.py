"""What `decode_image` accepts: an image file's path, its bytes, or a frame already in memory
(numpy, BGR, BGRA or gray), turned into one 8-bit gray array, or an `ImageError` saying why not."""

from __future__ import annotations

import io
import os
from pathlib import Path
from typing import TypeAlias

import cv2
import numpy as np
import numpy.typing as npt
from PIL import Image, ImageOps, UnidentifiedImageError

Gray: TypeAlias = npt.NDArray[np.uint8]
ImageSource: TypeAlias = npt.NDArray[np.generic] | bytes | str | os.PathLike[str]

MAX_PIXELS = 40_000_000  # a 40 MP frame is already far beyond any camera at the lane
MAX_FILE_BYTES = 100_000_000


class ImageError(ValueError):
    """The input is not an image the decoders can read; the message says why."""


def load_gray(source: ImageSource) -> Gray:
    """`source` as a C-contiguous 2-D uint8 gray image."""
    if isinstance(source, np.ndarray):
        return _array_to_gray(source)
    if isinstance(source, bytes | bytearray | memoryview):
        return _decode_file_bytes(bytes(source))
    if isinstance(source, str | os.PathLike):
        path = Path(source)
        try:
            if path.stat().st_size > MAX_FILE_BYTES:
                raise ImageError(f"larger than {MAX_FILE_BYTES // 1_000_000} MB")
            return _decode_file_bytes(path.read_bytes())
        except OSError as error:
            raise ImageError(f"{path}: cannot read: {error.strerror or error}") from error
        except ImageError as error:
            raise ImageError(f"{path}: {error}") from error
    raise ImageError(f"expected a numpy array, image bytes or a path, got {type(source).__name__}")


def _decode_file_bytes(data: bytes) -> Gray:
    if not data:
        raise ImageError("empty file")
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.width * opened.height > MAX_PIXELS:
                raise ImageError(f"image is {opened.width}x{opened.height}, too large")
            gray = ImageOps.exif_transpose(opened).convert("L")
    except ImageError:
        raise
    except UnidentifiedImageError as error:
        raise ImageError("not an image file (unknown or corrupt format)") from error
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as error:
        # Pillow reports truncated and corrupt data as OSError, broken headers as SyntaxError.
        raise ImageError(f"corrupt image file: {error}") from error
    return _array_to_gray(np.asarray(gray))


def _array_to_gray(array: npt.NDArray[np.generic]) -> Gray:
    if array.size == 0:
        raise ImageError(f"empty image (shape {array.shape})")
    if array.ndim == 3 and array.shape[2] == 1:
        array = array[:, :, 0]
    if array.ndim not in (2, 3):
        raise ImageError(f"expected a 2-D gray or 3-D colour array, got shape {array.shape}")
    if array.ndim == 3 and array.shape[2] not in (3, 4):
        raise ImageError(f"expected 1, 3 (BGR) or 4 (BGRA) channels, got {array.shape[2]}")
    if array.shape[0] * array.shape[1] > MAX_PIXELS:
        raise ImageError(f"image is {array.shape[1]}x{array.shape[0]}, too large")
    pixels = _to_uint8(array)
    if pixels.ndim == 3:
        code = cv2.COLOR_BGR2GRAY if pixels.shape[2] == 3 else cv2.COLOR_BGRA2GRAY
        pixels = np.asarray(cv2.cvtColor(np.ascontiguousarray(pixels), code), dtype=np.uint8)
    return np.ascontiguousarray(pixels)


def _to_uint8(array: npt.NDArray[np.generic]) -> Gray:
    if array.dtype == np.uint8:
        return array.astype(np.uint8, copy=False)
    if array.dtype == np.bool_:
        return array.astype(np.uint8) * np.uint8(255)
    if array.dtype == np.uint16:
        return (array.astype(np.uint16) >> 8).astype(np.uint8)
    if np.issubdtype(array.dtype, np.floating):
        floats = array.astype(np.float64)
        if not np.isfinite(floats).all() or floats.min() < 0.0 or floats.max() > 1.0:
            raise ImageError("float pixels must be finite and within 0..1")
        return np.rint(floats * 255.0).astype(np.uint8)
    raise ImageError(f"unsupported pixel type {array.dtype}; expected uint8")
