"""A command in a subprocess, with the peak memory it took.

The peak is measured by a small wrapper process whose only child is the command: the kernel's
maximum resident set of its waited-for descendants (the command and any worker it waited for)
is then the command's alone, whatever else the test process ran before (Linux: ru_maxrss, kB).
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

_WRAPPER = """
import json, resource, subprocess, sys
stdin = open(sys.argv[1], "rb") if sys.argv[1] else subprocess.DEVNULL
done = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True, check=False)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
json.dump({"status": done.returncode, "out": done.stdout.decode("utf-8", "replace"),
           "err": done.stderr.decode("utf-8", "replace"), "peak_kb": peak_kb}, sys.stdout)
"""


@dataclass(frozen=True)
class PeakRun:
    status: int
    out: str
    err: str
    peak_kb: int

    @property
    def peak_mb(self) -> float:
        return self.peak_kb / 1024


def run_with_peak_memory(command: list[str], *, stdin: Path | None, timeout: float) -> PeakRun:
    """Run `command` (stdin from the file `stdin`, else none) to its end, within `timeout` s."""
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(stdin or ""), *command],
        capture_output=True, check=False, timeout=timeout,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    result = json.loads(done.stdout)
    return PeakRun(result["status"], result["out"], result["err"], result["peak_kb"])
