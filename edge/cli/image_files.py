"""Image files given on the command line, checked before anything decodes them: a regular file
of bounded size whose header (read alone, by Pillow) declares a bounded number of pixels. A PNG
of 389 KB can declare 20000x20000 pixels, which OpenCV would decode into 1.2 GB."""

from __future__ import annotations

import stat
from pathlib import Path

from PIL import Image, UnidentifiedImageError

# Far beyond any lane camera's or document scanner's frame (a 4K frame is 8.3 MP).
MAX_IMAGE_PIXELS = 40_000_000
MAX_IMAGE_BYTES = 100_000_000


def image_file_problem(path: Path) -> str | None:
    """Why `path` must not be decoded, or None. A format Pillow does not know is left to the
    decoder, whose own header checks then apply."""
    try:
        mode = path.stat()
    except OSError as error:
        return f"cannot read: {error.strerror or error}"
    except ValueError as error:  # a NUL in the path
        return f"not a path: {error}"
    if not stat.S_ISREG(mode.st_mode):
        return "not a regular file"
    if mode.st_size > MAX_IMAGE_BYTES:
        return f"{mode.st_size} bytes; an image is at most {MAX_IMAGE_BYTES}"
    limit, Image.MAX_IMAGE_PIXELS = Image.MAX_IMAGE_PIXELS, None  # our own cap, below
    try:
        with Image.open(path) as image:  # reads the header only
            width, height = image.size
    except UnidentifiedImageError:
        return None
    except (OSError, SyntaxError, ValueError) as error:
        return f"corrupt image file: {error}"
    finally:
        Image.MAX_IMAGE_PIXELS = limit
    if width * height > MAX_IMAGE_PIXELS:
        return f"its header declares {width}x{height} pixels, more than {MAX_IMAGE_PIXELS}"
    return None
