"""The figures of the box's health report, collected from the running service: its devices,
the disk, the store, the outbox, the clock, the certificate and the versions
(`provisioning.fleet.health_report` makes the report of them)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import importlib.metadata
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Engine, func, select
from sqlalchemy.exc import SQLAlchemyError

from edge.readings import Health
from edge.store.database import DATABASE_NAME
from edge.store.schema import decisions
from edge.timeutil import utcnow
from provisioning.fleet.health_report import (
    BacklogFigure,
    DeviceFigure,
    HealthFigures,
    clock_report,
)
from provisioning.fleet.status import certificate_expiry
from provisioning.fleet.twin import applied_version
from provisioning.update.state import UpdateState, UpdateStateError, read_state
from sync.messages import ClockReport
from sync.outbox import Outbox

if TYPE_CHECKING:
    from edge.service import EdgeService

CLOCK_TIMEOUT_S = 3.0
SOFTWARE = "carec-edge"


def software_version() -> str:
    try:
        return importlib.metadata.version(SOFTWARE)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def device_figures(service: EdgeService) -> list[DeviceFigure]:
    """The configured devices (not the disk nor the plate worker, reported on their own)."""
    from edge.service import PLATE_READER
    from edge.service.upkeep import DISK

    return [
        DeviceFigure(device_id, s.kind, s.lane, s.health.value, s.why)
        for device_id, s in list(service.devices.items())
        if device_id not in (DISK, PLATE_READER)
    ]


def connected_devices(service: EdgeService) -> list[str]:
    return [d.id for d in device_figures(service) if d.health == Health.CONNECTED.value]


def _store_figures(
    engine: Engine, outbox: Outbox | None
) -> tuple[list[BacklogFigure], dt.datetime | None, int]:
    """On the store thread: the outbox's backlog, the last decision, the twin version."""
    backlog = []
    if outbox is not None:
        backlog = [
            BacklogFigure(q.peer, q.priority.value, q.depth + q.refused, q.oldest_s)
            for q in outbox.status()
        ]
    with engine.connect() as conn:
        last = conn.execute(select(func.max(decisions.c.decided_at))).scalar()
        version = applied_version(conn)
    return backlog, last, version


def _command_output(*command: str) -> str | None:
    """A status command's output, None when it is not there, fails or does not answer in time.
    Run in a thread (not an asyncio subprocess: a stop cancelling one half-made could hang
    the loop's teardown); the thread ends by itself within the timeout."""
    try:
        done = subprocess.run(
            command, capture_output=True, stdin=subprocess.DEVNULL, timeout=CLOCK_TIMEOUT_S,
            check=False,
        )  # fmt: skip
    except (OSError, subprocess.SubprocessError):
        return None
    if done.returncode != 0:
        return None
    return done.stdout.decode("utf-8", "replace")[:20_000]


def _clock_status() -> ClockReport:
    chronyc = _command_output("chronyc", "-n", "tracking")
    timedatectl = None if chronyc else _command_output("timedatectl", "show")
    return clock_report(chronyc, timedatectl)


async def clock_status() -> ClockReport:
    return await asyncio.to_thread(_clock_status)


async def collect(service: EdgeService, model_version: str | None = None) -> HealthFigures:
    from edge.service import PLATE_READER
    from edge.service.upkeep import DISK

    store_answers = True
    backlog: list[BacklogFigure] = []
    last_decision: dt.datetime | None = None
    twin_version = 0
    try:
        backlog, last_decision, twin_version = await service.in_store(
            _store_figures, service.engine, service.outbox
        )
    except SQLAlchemyError:
        store_answers = False
    try:
        disk = await asyncio.to_thread(shutil.disk_usage, service.data_dir)
        total, free = disk.total, disk.free
    except OSError:
        total, free = 0, 0
    database = service.data_dir / DATABASE_NAME
    size = 0
    for path in (database, database.with_name(database.name + "-wal")):
        with contextlib.suppress(OSError):
            size += path.stat().st_size
    _, not_after, _ = certificate_expiry(service.config.sync.identity_dir)
    plate = service.devices.get(PLATE_READER)
    disk_status = service.devices.get(DISK)
    return HealthFigures(
        node=service.config.node.id,
        at=utcnow(),
        devices=device_figures(service),
        plate_worker=plate.health.value if plate else None,
        disk_total_bytes=total,
        disk_free_bytes=free,
        database_bytes=size,
        backlog=backlog,
        clock=await clock_status(),
        certificate_not_after=not_after,
        software_version=software_version(),
        model_version=model_version,
        last_decision_at=last_decision,
        twin_version=twin_version,
        store_answers=store_answers,
        disk_low=disk_status is not None and disk_status.health is not Health.CONNECTED,
        update=update_state(service.data_dir),
    )


def update_state(data_dir: Path) -> UpdateState | None:
    """The update state file beside the store (provisioning.update.state); None: unreadable."""
    try:
        return read_state(data_dir)
    except (UpdateStateError, OSError):
        return None
