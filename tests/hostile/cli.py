"""The real `carec-edge` CLI in a subprocess, with the peak memory it took.

The peak is measured by a small wrapper process whose only child is the CLI: the kernel's
maximum resident set of its waited-for descendants (the CLI and any worker it waited for) is
then the CLI's alone, whatever else the test process ran before.
"""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

# Far above what the CLI needs for any input (about 100 MB with the plate models loaded), far
# below what the unbounded readers took (1 to 3 GB): a memory bound, not a timing.
MEMORY_BOUND_MB = 300
# A generous deadline: the box has two cores, shared with whatever else runs.
DEADLINE_S = 600

_WRAPPER = """
import json, resource, subprocess, sys
stdin = open(sys.argv[1], "rb") if sys.argv[1] else subprocess.DEVNULL
done = subprocess.run(sys.argv[2:], stdin=stdin, capture_output=True, check=False)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
json.dump({"status": done.returncode, "out": done.stdout.decode("utf-8", "replace"),
           "err": done.stderr.decode("utf-8", "replace"), "peak_mb": peak_kb / 1024}, sys.stdout)
"""


@dataclass(frozen=True)
class Run:
    status: int
    out: str
    err: str
    peak_mb: float

    def assert_clean_failure(self) -> None:
        """A message, not a crash: no traceback and no error class a crash would name."""
        for crash in ("Traceback (most recent call last)", "MemoryError", "RecursionError"):
            assert crash not in self.err, self.err[-3000:]


def carec_edge(*args: str, stdin: Path | None = None, data_dir: Path | None = None) -> Run:
    command = [sys.executable, "-m", "edge.cli"]
    if data_dir is not None:
        command += ["--data-dir", str(data_dir)]
    done = subprocess.run(
        [sys.executable, "-c", _WRAPPER, str(stdin or ""), *command, *args],
        capture_output=True, check=False, timeout=DEADLINE_S,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr.decode("utf-8", "replace")
    result = json.loads(done.stdout)
    return Run(result["status"], result["out"], result["err"], result["peak_mb"])
