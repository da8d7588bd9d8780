"""The real `carec-edge` CLI in a subprocess, with the peak memory it took.

The peak is measured by tests/peak_memory.py: the CLI's alone, with any worker it waited for.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

from tests.peak_memory import run_with_peak_memory

# Far above what the CLI needs for any input (about 100 MB with the plate models loaded), far
# below what the unbounded readers took (1 to 3 GB): a memory bound, not a timing.
MEMORY_BOUND_MB = 300
# A generous deadline: the box has two cores, shared with whatever else runs.
DEADLINE_S = 600


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
    result = run_with_peak_memory([*command, *args], stdin=stdin, timeout=DEADLINE_S)
    return Run(result.status, result.out, result.err, result.peak_mb)
