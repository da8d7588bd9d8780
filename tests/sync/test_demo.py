"""`make demo` keeps working: the crossing of two posts, run as the README says."""

from __future__ import annotations

import re
import subprocess
import sys


def test_the_crossing_demo_matches_trucks_on_both_sides_of_the_border() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "demo", "--trucks", "25", "--seed", "7"],
        capture_output=True, text=True, check=False, timeout=300,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    assert "sent 25 signed pre-arrival records to KZ-NURZHOLY-1" in out
    confirmations = re.search(r"sent (\d+) exit confirmations to KG-TORUGART-1", out)
    assert confirmations is not None
    assert int(confirmations.group(1)) >= 20
    rights = [(int(a), int(b)) for a, b in re.findall(r"^right +(\d+)/(\d+)", out, re.MULTILINE)]
    assert len(rights) == 2  # the exit post's trucks, then the entry post's
    assert all(right >= 0.9 * total for right, total in rights)
    camera = re.search(r"read exactly (\d+)/(\d+), matched to their record (\d+)/(\d+)", out)
    assert camera is not None, out[-2000:]  # the entry lane's camera, through plate recognition
    _, trucks, matched, _ = map(int, camera.groups())
    assert trucks == 12
    assert matched >= 0.9 * trucks
