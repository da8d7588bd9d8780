"""A box's health report (`sync.messages.HealthMessage`) made from plain figures the wiring
collects, and the clock's status read from `chronyc tracking` or `timedatectl show`. Pure
functions: a figure that cannot be had is left out, never a crash."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Sequence
from dataclasses import dataclass

from pydantic import ValidationError

from provisioning.update.state import UpdateState
from sync.messages import (
    BacklogReport,
    ClockReport,
    DeviceHealthReport,
    HealthMessage,
    Priority,
    UpdateReport,
)

MAX_DEVICES = 64  # what a report carries (HealthMessage.devices)
MB = 1024 * 1024
_DEVICE_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
_LANE = re.compile(r"^[A-Za-z0-9_.-]{1,32}$")
_PEER = re.compile(r"^[a-z0-9_-]{1,32}$")
HEALTHS = ("connected", "degraded", "disconnected")


@dataclass(frozen=True)
class DeviceFigure:
    id: str
    kind: str
    lane: str
    health: str  # connected | degraded | disconnected
    why: str = ""


@dataclass(frozen=True)
class BacklogFigure:
    peer: str
    priority: str  # a sync.messages.Priority value
    waiting: int
    oldest_s: float | None = None


@dataclass(frozen=True)
class HealthFigures:
    """Everything a report says, as the wiring found it."""

    node: str
    at: dt.datetime
    devices: Sequence[DeviceFigure]
    plate_worker: str | None  # the recognition worker's health; None: no worker runs
    disk_total_bytes: int
    disk_free_bytes: int
    database_bytes: int
    backlog: Sequence[BacklogFigure]
    clock: ClockReport
    certificate_not_after: dt.datetime | None
    software_version: str
    model_version: str | None = None
    last_decision_at: dt.datetime | None = None
    twin_version: int = 0
    store_answers: bool = True
    disk_low: bool = False
    update: UpdateState | None = None  # the update state file; None: unreadable


def service_state(figures: HealthFigures) -> str:
    """failing: the store does not answer; degraded: a device is not connected, the disk is
    low or the plate worker is down; ok otherwise."""
    if not figures.store_answers:
        return "failing"
    troubled = any(d.health != "connected" for d in figures.devices)
    if troubled or figures.disk_low or figures.plate_worker == "disconnected":
        return "degraded"
    return "ok"


def plate_worker_state(health: str | None) -> str:
    return {None: "off", "connected": "ok", "degraded": "busy"}.get(health, "down")


def device_reports(devices: Sequence[DeviceFigure]) -> tuple[DeviceHealthReport, ...]:
    """The devices as the wire takes them: ids, lanes and reasons that fit, at most 64."""
    reports = []
    for device in devices[:MAX_DEVICES]:
        if not _DEVICE_ID.match(device.id):
            continue
        reports.append(
            DeviceHealthReport(
                id=device.id,
                kind=(device.kind or "unknown")[:64],
                lane=device.lane if _LANE.match(device.lane) else "unknown",
                health=device.health if device.health in HEALTHS else "disconnected",
                why=device.why[:300] or None,
            )
        )
    return tuple(reports)


def backlog_reports(backlog: Sequence[BacklogFigure]) -> tuple[BacklogReport, ...]:
    reports = [
        BacklogReport(peer=b.peer, priority=Priority(b.priority), waiting=max(0, b.waiting))
        for b in backlog
        if _PEER.match(b.peer) and b.priority in Priority.__members__.values() and b.waiting
    ]
    return tuple(reports[:64])


def oldest_unsent_evidence_s(backlog: Sequence[BacklogFigure]) -> int | None:
    ages = [
        b.oldest_s for b in backlog if b.priority == Priority.EVIDENCE and b.oldest_s is not None
    ]
    return int(max(ages)) if ages else None


def build_health(figures: HealthFigures) -> HealthMessage:
    total = max(figures.disk_total_bytes, 1)
    used_pct = min(100.0, max(0.0, 100.0 * (total - figures.disk_free_bytes) / total))
    return HealthMessage(
        node=figures.node,
        at=figures.at,
        service=service_state(figures),
        devices=device_reports(figures.devices),
        plate_worker=plate_worker_state(figures.plate_worker),
        disk_used_pct=round(used_pct, 2),
        disk_free_mb=max(0, figures.disk_free_bytes) // MB,
        database_mb=round(max(0, figures.database_bytes) / MB, 3),
        backlog=backlog_reports(figures.backlog),
        oldest_unsent_evidence_s=oldest_unsent_evidence_s(figures.backlog),
        clock=figures.clock,
        certificate_not_after=figures.certificate_not_after,
        software_version=figures.software_version[:64] or "unknown",
        model_version=(figures.model_version or None) and figures.model_version[:64],
        last_decision_at=figures.last_decision_at,
        twin_version=max(0, figures.twin_version),
        update=update_report(figures.update),
    )


def update_report(state: UpdateState | None) -> UpdateReport | None:
    """The update state as the centre's rollout reads it: a field that does not fit the wire
    is left out (the phase always goes); None for a box that never updated."""
    if state is None or (state.phase == "idle" and not state.version and not state.target):
        return None
    fields = {
        "target": state.target, "version": state.version[:64], "booted_slot": state.booted_slot,
        "reason": state.reason[:500], "rollout": state.rollout,
    }  # fmt: skip
    report = UpdateReport(phase=state.phase)
    for name, value in fields.items():
        if not value:
            continue
        try:
            report = UpdateReport.model_validate({**report.model_dump(), name: value})
        except ValidationError:
            continue  # e.g. a target name typed by hand for a USB stick
    return report


# --- the clock ---------------------------------------------------------------------------------

UNKNOWN_CLOCK = ClockReport(source="unknown", synchronised=False)
_CHRONY_OFFSET = re.compile(
    r"^System time\s*:\s*([0-9.]+)\s+seconds\s+(fast|slow)\s+of\s+NTP\s+time", re.MULTILINE
)
_CHRONY_LEAP = re.compile(r"^Leap status\s*:\s*(.+?)\s*$", re.MULTILINE)


def parse_chronyc_tracking(text: str) -> ClockReport | None:
    """`chronyc tracking`'s output as a clock report; None when it is not that output."""
    leap = _CHRONY_LEAP.search(text)
    if leap is None:
        return None
    offset_ms: float | None = None
    if found := _CHRONY_OFFSET.search(text):
        try:
            seconds = float(found.group(1))
        except ValueError:
            seconds = float("nan")
        if seconds == seconds and abs(seconds) < 1e6:  # a number, and a sane one
            offset_ms = round(seconds * 1000 * (1 if found.group(2) == "fast" else -1), 3)
    synchronised = leap.group(1).lower() != "not synchronised"
    return ClockReport(source="chrony", synchronised=synchronised, offset_ms=offset_ms)


def parse_timedatectl_show(text: str) -> ClockReport | None:
    """`timedatectl show`'s output (key=value lines); None when it holds no NTP status."""
    values = dict(
        line.split("=", 1) for line in text.splitlines() if "=" in line and not line.startswith("=")
    )
    synced = values.get("NTPSynchronized")
    if synced is None:
        return None
    if values.get("NTP", "yes") != "yes":
        return ClockReport(source="none", synchronised=synced == "yes")
    return ClockReport(source="timesyncd", synchronised=synced == "yes")


def clock_report(chronyc: str | None, timedatectl: str | None) -> ClockReport:
    """chrony's view when chronyc answered, else systemd's, else unknown."""
    for text, parse in ((chronyc, parse_chronyc_tracking), (timedatectl, parse_timedatectl_show)):
        if text:
            report = parse(text)
            if report is not None:
                return report
    return UNKNOWN_CLOCK
