"""What the centre's TUF repository and the box agree on: the image's compatible, the shape of
target names and versions, and how two versions compare."""

from __future__ import annotations

import re

COMPATIBLE = "carec-edge-x86_64"  # RAUC's compatible of the box's image
TARGET_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,199}$")
VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+~-]{0,63}$")
_PART = re.compile(r"\d+|[^\d]+")


def version_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Versions compare part by part, runs of digits as numbers: 2026.12.10 > 2026.12.9 > 2026.9;
    a number sorts after letters, so 1.4.0 > 1.4.0~rc1 is not claimed: use numbers only."""
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in _PART.findall(version))


def is_newer(candidate: str, running: str) -> bool:
    return version_key(candidate) > version_key(running)
