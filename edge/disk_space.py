"""Free space on the data directory's disk, and what the box lets go when it runs short.

Below `degraded_below` the box's health turns degraded (the technician sees it). Below
`shed_below` it sheds, in this order: telemetry (waiting in the outbox, received from other
nodes), then plate crops, oldest first, until the degraded line is reached again. Evidence
(decisions, the arrivals they rest on, the outbox's evidence) is never shed.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path

from edge.crops import CropStore

MB = 1024 * 1024


class DiskState(StrEnum):
    OK = "ok"
    LOW = "low"  # below the degraded line: health degraded
    SHORT = "short"  # below the shedding line: telemetry and crops go


@dataclass(frozen=True)
class DiskCheck:
    free_bytes: int
    state: DiskState
    why: str


@dataclass(frozen=True)
class Shed:
    telemetry_rows: int
    crop_bytes: int


def check_disk(path: Path, degraded_below_mb: int, shed_below_mb: int) -> DiskCheck:
    """How much room is left where `path` lives, and what that means."""
    free = shutil.disk_usage(path).free
    free_mb = free // MB
    if free < shed_below_mb * MB:
        return DiskCheck(
            free,
            DiskState.SHORT,
            f"{free_mb} MB free, below {shed_below_mb} MB: shedding telemetry and crops",
        )
    if free < degraded_below_mb * MB:
        return DiskCheck(free, DiskState.LOW, f"{free_mb} MB free, below {degraded_below_mb} MB")
    return DiskCheck(free, DiskState.OK, f"{free_mb} MB free")


def shed_for_space(
    shed_telemetry: Callable[[], int],
    crops: CropStore | None,
    check: DiskCheck,
    degraded_below_mb: int,
) -> Shed:
    """Free room after a SHORT check: telemetry first (`shed_telemetry`, the sync room's: it
    drops what its tables hold and says how many rows), then crops up to the degraded line."""
    if check.state is not DiskState.SHORT:
        return Shed(0, 0)
    telemetry = shed_telemetry()
    wanted = degraded_below_mb * MB - check.free_bytes
    freed = crops.shed(wanted) if crops is not None and wanted > 0 else 0
    return Shed(telemetry, freed)
