"""The box's upkeep, run by the service: retention purges every purge interval, the disk check,
and the bound of the readings queue. The rules live in the core (`edge.retention`,
`edge.crops`, `edge.disk_space`); this module runs them on the store thread and reports.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from edge.config import RetentionConfig
from edge.crops import CROPS_DIR, CropStore
from edge.disk_space import DiskCheck, DiskState, check_disk, shed_for_space
from edge.logs import error_first_line, log_event
from edge.reading_quarantine import purge_older as purge_quarantined_readings
from edge.readings import Health, Reading
from edge.retention import purge_arrivals_batches
from edge.timeutil import utcnow
from sync.retention import SYNC_TABLES, log_purged, purge_sync_batches, shed_telemetry

if TYPE_CHECKING:
    from collections.abc import Awaitable

logger = logging.getLogger(__name__)

InStore = Callable[..., "Awaitable[Any]"]

DISK = "disk"  # the data directory's disk, shown beside the devices


def crop_store(data_dir: Path, retention: RetentionConfig) -> CropStore:
    return CropStore(
        data_dir / CROPS_DIR,
        retention.crop_quota_mb * 1024 * 1024,
        dt.timedelta(days=retention.crop_days),
    )


def purge_retention(
    engine: Engine, crops: CropStore, retention: RetentionConfig, now: dt.datetime
) -> dict[str, int]:
    """One pass of every retention rule of the core and of sync (`sync.retention`), at once;
    rows (and crop files) removed."""
    counts: dict[str, int] = {}
    for step in retention_steps(engine, crops, retention, now):
        _add(counts, step)
    return counts


def retention_steps(
    engine: Engine, crops: CropStore, retention: RetentionConfig, now: dt.datetime
) -> Iterator[dict[str, int]]:
    """A retention pass one transaction (or the crop purge) at a time: each step yields what it
    removed. The service runs each step as its own store job, so a long purge never holds the
    store thread (and the watchdog that waits on it) for longer than one batch."""
    yield from purge_arrivals_batches(
        engine,
        now=now,
        evidence_days=retention.evidence_days,
        undecided_days=retention.undecided_arrival_days,
    )
    yield {"crops": crops.purge(now)}
    quarantined_before = now - dt.timedelta(days=retention.quarantine_days)
    yield {"reading_quarantine": purge_quarantined_readings(engine, quarantined_before)}
    synced = dict.fromkeys(SYNC_TABLES, 0)
    for table, count in purge_sync_batches(  # the sync room's own rules
        engine,
        now=now,
        evidence_days=retention.evidence_days,
        dedupe_days=retention.dedupe_days,
        quarantine_days=retention.quarantine_days,
        events_days=retention.peer_events_days,
    ):
        synced[table] += count
        yield {table: count}
    log_purged(synced)


def _add(counts: dict[str, int], step: dict[str, int]) -> None:
    for table, count in step.items():
        counts[table] = counts.get(table, 0) + count


@dataclass
class ReadingsQueue:
    """The readings waiting for the store thread, bounded: beyond `limit` a reading is
    refused, counted (`overflow`, and per device) and logged, and the service goes on. A flood
    logs its first refusal, then at most one line every `log_every_s` with the count refused
    since the last line: the log stays readable while the queue is full."""

    limit: int
    queue: asyncio.Queue[Reading] = field(init=False)
    overflow: int = 0
    overflow_by_device: dict[str, int] = field(default_factory=dict)
    log_every_s: float = 60.0
    clock: Callable[[], float] = time.monotonic
    _unlogged: int = field(default=0, init=False)
    _logged_at: float | None = field(default=None, init=False)

    def __post_init__(self) -> None:
        self.queue = asyncio.Queue(maxsize=self.limit)

    def put(self, reading: Reading) -> bool:
        """On the loop's thread: queue a reading; False when the queue was full."""
        try:
            self.queue.put_nowait(reading)
        except asyncio.QueueFull:
            self.overflow += 1
            self.overflow_by_device[reading.device] = (
                self.overflow_by_device.get(reading.device, 0) + 1
            )
            self._unlogged += 1
            now = self.clock()
            if self._logged_at is None or now - self._logged_at >= self.log_every_s:
                log_event(
                    logger,
                    logging.WARNING,
                    "reading.overflow",
                    device=reading.device,
                    kind=reading.kind,
                    limit=self.limit,
                    refused=self._unlogged,  # since the last line (this one included)
                    overflow=self.overflow,
                )
                self._logged_at, self._unlogged = now, 0
            return False
        return True


async def retention_job(
    in_store: InStore,
    engine: Callable[[], Engine],
    crops: CropStore,
    retention: RetentionConfig,
    interval_s: float,
) -> None:
    """Purge past retention now and every `interval_s`, until cancelled."""
    while True:
        try:
            steps = retention_steps(engine(), crops, retention, utcnow())
            counts: dict[str, Any] = {}
            # One store job a step: the store thread serves the lanes between two batches.
            while (step := await in_store(next, steps, None)) is not None:
                _add(counts, step)
            log_event(logger, logging.INFO, "retention.purged", **counts)
        except (SQLAlchemyError, OSError) as error:
            log_event(logger, logging.ERROR, "retention.failed", error=error_first_line(error))
        await asyncio.sleep(interval_s)


async def disk_job(
    in_store: InStore,
    engine: Callable[[], Engine],
    crops: CropStore,
    data_dir: Path,
    retention: RetentionConfig,
    on_health: Callable[[Health, str], None],
) -> None:
    """Check the free space now and every `disk_check_interval_s`; report health changes and
    shed when short, until cancelled."""
    last: DiskState | None = None
    while True:
        try:
            check: DiskCheck = await asyncio.to_thread(
                check_disk,
                data_dir,
                retention.disk_degraded_below_mb,
                retention.disk_shed_below_mb,
            )
            if check.state is DiskState.SHORT:
                shed = await in_store(
                    shed_for_space,
                    functools.partial(shed_telemetry, engine()),  # sync's tables, its rules
                    crops,
                    check,
                    retention.disk_degraded_below_mb,
                )
                log_event(
                    logger,
                    logging.WARNING,
                    "disk.shed",
                    free_mb=check.free_bytes // (1024 * 1024),
                    telemetry_rows=shed.telemetry_rows,
                    crop_bytes=shed.crop_bytes,
                )
            if check.state is not last:
                health = Health.CONNECTED if check.state is DiskState.OK else Health.DEGRADED
                on_health(health, check.why)
                last = check.state
        except (SQLAlchemyError, OSError) as error:
            log_event(logger, logging.ERROR, "disk.check_failed", error=error_first_line(error))
        await asyncio.sleep(retention.disk_check_interval_s)
