"""Plate recognition needs no network: every model ships in a package or in the repo. The
pipeline runs in a process with no network at all (its own empty network namespace, where
`unshare` is allowed) and with every socket connection and name lookup refused."""

from __future__ import annotations

import json
import random
import shutil
import subprocess
import sys
from pathlib import Path

import cv2

from drivers.sim.plates import render_scene
from edge.plate_formats import formats_for

NO_SOCKETS = """
import sys

def refuse(event, args):
    if event in ("socket.connect", "socket.getaddrinfo", "socket.gethostbyname", "urllib.Request"):
        raise PermissionError(f"network use in an offline test: {event} {args!r}")

sys.addaudithook(refuse)
from edge.cli import main
sys.exit(main(sys.argv[1:]))
"""


def _isolated() -> list[str]:
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-rn", "true"], check=False).returncode == 0:
        return [unshare, "-rn"]
    return []  # the audit hook still refuses every connection


def test_plates_are_read_with_networking_disabled(tmp_path: Path) -> None:
    fmt = formats_for("KG", "vehicle")[0]
    rng = random.Random(11)
    text = fmt.random_plate(rng)
    frame, _ = render_scene(text, fmt, rng, strength=0.1)
    image = tmp_path / "lane.jpg"
    cv2.imwrite(str(image), frame)
    command = [*_isolated(), sys.executable, "-c", NO_SOCKETS, "plates", "read", str(image)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr
    assert "network use" not in done.stderr
    result = json.loads(done.stdout)
    assert result["candidates"][0]["text"] == text
    assert result["candidates"][0]["country"] == "KG"
