"""`carec-edge sim run` and `carec-edge devices watch` together, as an engineer at a box uses
them: the emulators on ptys, the real drivers printing JSON lines."""

from __future__ import annotations

import json
import os
import queue
import signal
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO, Any

REPO = Path(__file__).resolve().parents[2]
TIMEOUT = 20.0

SCENARIO = """
seed = 7

[[device]]
id = "scanner-1"
kind = "barcode"
prefix = "\\u0002"
suffix = "\\u0003"
faults = { noise = 0.5, split = 0.5 }

[[device]]
id = "mrz-1"
kind = "mrz"
faults = { split = 1.0 }

[[device]]
id = "eseal-1"
kind = "eseal"
faults = { corrupt = 0.5 }

[[event]]
at = 0.0
device = "scanner-1"
scan = "XA81234567"
symbology = "pdf417"

[[event]]
at = 0.1
device = "mrz-1"
mrz = ["P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<", "L898902C36UTO7408122F1204159ZE184226B<<<<<10"]

[[event]]
at = 0.15
device = "eseal-1"
seal = { id = "0A1F-0012D687", state = "tampered", battery_low = true }

[[event]]
at = 0.2
device = "scanner-1"
unplug_for = 0.5

[[event]]
at = 0.3
device = "scanner-1"
scan = "LOST-WHILE-UNPLUGGED"

[[event]]
at = 1.0
device = "scanner-1"
pause = true

[[event]]
at = 1.0
device = "scanner-1"
scan = "KZC1234567"
"""


def lines_of(stream: IO[str]) -> queue.Queue[str]:
    out: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        for line in stream:
            out.put(line)

    threading.Thread(target=pump, daemon=True).start()
    return out


def carec_edge(*args: str, stdin: int | None = None) -> subprocess.Popen[str]:
    env = os.environ | {"PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-m", "edge.cli", *args], stdin=stdin, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip


def next_json(lines: queue.Queue[str], **wanted: Any) -> dict[str, Any]:
    while True:
        data = json.loads(lines.get(timeout=TIMEOUT))
        if all(data.get(k) == v for k, v in wanted.items()):
            return data


def test_watch_prints_what_the_simulated_devices_read(tmp_path: Path) -> None:
    scenario = tmp_path / "lane.toml"
    scenario.write_text(SCENARIO, encoding="utf-8")
    sim = carec_edge(
        "sim",
        "run",
        str(scenario),
        "--dir",
        str(tmp_path),
        "--wait",
        "--hold",
        stdin=subprocess.PIPE,
    )
    watch = None
    try:
        assert sim.stdout is not None
        sim_out = lines_of(sim.stdout)
        ports = {d["device"]: d["port"] for d in (next_json(sim_out) for _ in range(3))}
        watch = carec_edge(
            "devices",
            "watch",
            "--device",
            f"barcode:{ports['scanner-1']}",
            "--device",
            f"mrz:{ports['mrz-1']}",
            "--device",
            f"eseal:{ports['eseal-1']}",
        )
        assert watch.stdout is not None
        assert watch.stderr is not None
        readings, status = lines_of(watch.stdout), lines_of(watch.stderr)
        waiting = {"barcode-1", "mrz-2", "eseal-3"}
        while waiting:
            waiting.discard(next_json(status, health="connected")["device"])
        assert sim.stdin is not None
        sim.stdin.write("go\n")
        sim.stdin.flush()
        # Framed scans survive the noise: the barcode driver needs its prefix for that.
        first = next_json(readings, kind="document")
        assert first["valid"] is True
        assert first["mrz"]["document_number"] == "L898902C3"
        seal = next_json(readings, kind="seal")
        assert (seal["seal_id"], seal["state"], seal["battery_low"]) == (
            "0A1F-0012D687",
            "tampered",
            True,
        )
        next_json(status, device="barcode-1", health="disconnected")
        next_json(status, device="barcode-1", health="connected")
        sim.stdin.write("replugged\n")  # the scanner is back: scan again
        sim.stdin.flush()
        last = next_json(readings, kind="barcode", text="KZC1234567")
        assert last["device"] == "barcode-1"
    finally:
        for process in (watch, sim):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                process.wait(timeout=TIMEOUT)
    assert watch is not None
    assert watch.returncode == 0
