"""The gate after a boot (`carec-edge update self-test`, carec-update-selftest.service).

On a slot on trial (its entry still counts tries) the box checks itself: the service is up
(systemd says active, which for Type=notify means it said READY), the store opens and passes
SQLite's quick check, the configured devices are there, and sync is connected or queueing.
All pass: `rauc status mark-good` blesses the entry and the update state says `good`.
One fails: `rauc status mark-bad`, the other slot made primary, the state `rolled_back` with
the failed checks as the reason, and the box restarts into the slot it came from.
On a good slot nothing is gated; the fallback check records an update that rolled back.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError

from edge.store import open_database
from edge.store.schema import outbox
from edge.timeutil import format_utc, utcnow
from provisioning.fleet.commands import store_check
from provisioning.update import boot_entries, fallback, rauc
from provisioning.update.boot_entries import BootEntryError, Slot
from provisioning.update.bootloader_backend import booted_slot
from provisioning.update.os_release import image_version_in
from provisioning.update.state import UpdateState, read_state, write_state

SERVICE_UNIT = "carec-edge.service"
SERVICE_WAIT = 240.0  # TimeoutStartSec=120 and a restart or two
SETTLE = 15.0  # ready is not enough: it must stay up this long
MAX_RESTARTS = 3  # systemd restarted it this often since boot: broken, no need to wait
POLL = 0.5


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{self.name}: {'ok' if self.ok else 'FAILED'} ({self.detail})"


@dataclass(frozen=True)
class Box:
    """Where the gate reads and acts; the defaults are the appliance's."""

    esp: Path
    state_dir: Path
    cmdline: Path = Path("/proc/cmdline")
    os_release: Path = Path("/usr/lib/os-release")
    rauc_conf: Path | None = None
    reboot: Callable[[], object] = lambda: _systemctl(["reboot"])


@dataclass(frozen=True)
class Verdict:
    outcome: str  # good, rolled_back, nothing_on_trial
    state: UpdateState | None  # what was written, if anything
    checks: tuple[Check, ...] = ()

    def report(self) -> str:
        head = {
            "good": "self-test passed: this slot is marked good",
            "rolled_back": "self-test FAILED: this slot is marked bad; restarting into the other",
            "nothing_on_trial": "this slot is already good; nothing to gate",
        }[self.outcome]
        lines = [head, *(check.line() for check in self.checks)]
        if self.state is not None and self.state.reason and self.outcome != "good":
            lines.append(f"update state: {self.state.phase}: {self.state.reason}")
        return "\n".join(lines)


def check_service(
    unit: str = SERVICE_UNIT, wait: float = SERVICE_WAIT, settle: float = SETTLE
) -> Check:
    """Waits until systemd reports the unit active and running (for Type=notify: it said
    READY), then `settle` seconds more in which it must not stop or restart. Fails at once
    when the unit failed or systemd restarted it MAX_RESTARTS times, else when `wait` ends."""
    deadline = time.monotonic() + wait
    ready_at: float | None = None
    restarts_at_ready = 0
    while True:
        try:
            active, sub, restarts = _unit_state(unit)
        except BootEntryError as error:  # systemd unreachable: the box is not fine either
            return Check("service", False, str(error))
        now = time.monotonic()
        if active == "failed" or restarts >= MAX_RESTARTS:
            return Check("service", False, f"{unit} is {active}/{sub}, restarted {restarts}x")
        if active == "active" and sub == "running":
            if ready_at is None or restarts != restarts_at_ready:
                ready_at, restarts_at_ready = now, restarts
            elif now - ready_at >= settle:
                return Check("service", True, f"{unit} ready and up for {settle:.0f} s")
        else:
            ready_at = None
        if now > deadline:
            return Check("service", False, f"{unit} is {active}/{sub} after {wait:.0f} s")
        time.sleep(POLL)


def check_store(data_dir: Path) -> Check:
    if not data_dir.is_dir():
        return Check("store", False, f"{data_dir} is not a directory")
    with as_owner_of(data_dir):
        return _check_store(data_dir)


def _check_store(data_dir: Path) -> Check:
    try:
        engine = open_database(data_dir)
    except (OSError, SQLAlchemyError) as error:
        return Check("store", False, f"cannot open {data_dir}: {type(error).__name__}")
    try:
        found = store_check(engine)
    finally:
        engine.dispose()
    return Check("store", found == "ok", f"quick check {found}")


def check_devices(devices: Sequence[tuple[str, str]]) -> Check:
    """Each configured device's serial port or camera device node exists (`devices`: id and
    port or source, from the config the wiring parsed; a stream URL is not a node)."""
    missing = [
        f"{device} ({path})"
        for device, path in devices
        if path.startswith("/dev/") and not os.path.exists(path)
    ]
    if missing:
        return Check("devices", False, "missing " + ", ".join(missing))
    return Check("devices", True, f"{len(devices)} configured, all present")


def check_sync(data_dir: Path, booted_at: float) -> Check:
    """Connected (the broker took a message since boot) or queued (the outbox takes them)."""
    if not data_dir.is_dir():
        return Check("sync", False, f"{data_dir} is not a directory")
    with as_owner_of(data_dir):
        return _check_sync(data_dir, booted_at)


def _check_sync(data_dir: Path, booted_at: float) -> Check:
    try:
        engine = open_database(data_dir)
        try:
            with engine.connect() as conn:
                waiting = conn.execute(
                    select(func.count()).select_from(outbox).where(outbox.c.state == "pending")
                ).scalar_one()
                acked = conn.execute(select(func.max(outbox.c.acked_at))).scalar()
        finally:
            engine.dispose()
    except (OSError, SQLAlchemyError) as error:
        return Check("sync", False, f"the outbox cannot be read: {type(error).__name__}")
    if acked is not None and acked.timestamp() >= booted_at:
        return Check("sync", True, f"connected; {waiting} waiting")
    return Check("sync", True, f"queued; {waiting} waiting")


@contextlib.contextmanager
def as_owner_of(directory: Path) -> Iterator[None]:
    """Root (the self-test) opens the service's store as the store's owner: a journal or WAL
    file it creates must stay the service's, or the service could not open its store again."""
    if os.geteuid() != 0:
        yield
        return
    owner = directory.stat()
    os.setegid(owner.st_gid)
    os.seteuid(owner.st_uid)
    try:
        yield
    finally:
        os.seteuid(0)
        os.setegid(0)


def gate(box: Box, run_checks: Callable[[], Iterable[Check]]) -> Verdict:
    """Mark the booted slot good or fall back; `run_checks` only runs for a slot on trial."""
    booted = booted_slot(box.cmdline)
    version = running_version(box.os_release)
    entry = boot_entries.entry(box.esp, booted)
    previous = read_state(box.state_dir)
    if entry.state == "good":
        settled = fallback.settled_state(box.esp, booted, version, previous)
        if settled is not None:
            write_state_as_owner(box.state_dir, settled)
        return Verdict("nothing_on_trial", settled)
    checks = tuple(run_checks())
    failed = [check for check in checks if not check.ok]
    base = previous.model_copy(
        update={"booted_slot": booted, "version": version, "updated_at": format_utc(utcnow())}
    )
    if not failed:
        _mark(box, "good", booted)
        state = base.model_copy(update={"phase": "good", "reason": ""})
        write_state_as_owner(box.state_dir, state)
        return Verdict("good", state, checks)
    reason = f"self-test failed on slot {booted} ({version}): " + "; ".join(
        check.line() for check in failed
    )
    state = base.model_copy(update={"phase": "rolled_back", "reason": reason[:500]})
    write_state_as_owner(box.state_dir, state)
    _mark(box, "bad", booted)
    _make_primary(box, fallback.other_slot(booted))
    box.reboot()
    return Verdict("rolled_back", state, checks)


def running_version(os_release: Path) -> str:
    return image_version_in(os_release.read_text()) or ""


def booted_at(uptime: Path = Path("/proc/uptime")) -> float:
    return time.time() - float(uptime.read_text().split()[0])


def _mark(box: Box, state: str, slot: Slot) -> None:
    """Through RAUC, so its status file records it; straight on the ESP if RAUC cannot."""
    try:
        rauc.mark(state, "booted", conf=box.rauc_conf)
    except rauc.RaucError:
        (boot_entries.mark_good if state == "good" else boot_entries.mark_bad)(box.esp, slot)


def _make_primary(box: Box, slot: Slot) -> None:
    try:
        rauc.mark("active", "other", conf=box.rauc_conf)
    except rauc.RaucError:
        boot_entries.set_primary(box.esp, slot)


def write_state_as_owner(directory: Path, state: UpdateState) -> None:
    """The service (its own user) reads the file for its health report: keep its owner."""
    write_state(directory, state)
    owner = directory.stat()
    path = directory / "update-state.json"
    if os.geteuid() == 0 and (path.stat().st_uid, path.stat().st_gid) != (
        owner.st_uid,
        owner.st_gid,
    ):
        os.chown(path, owner.st_uid, owner.st_gid)


def _unit_state(unit: str) -> tuple[str, str, int]:
    output = _systemctl(["show", unit, "--property=ActiveState,SubState,NRestarts"])
    fields = dict(line.partition("=")[::2] for line in output.splitlines())
    restarts = fields.get("NRestarts", "0")
    return (
        fields.get("ActiveState", "unknown"),
        fields.get("SubState", "unknown"),
        int(restarts) if restarts.isdigit() else 0,
    )


def _systemctl(arguments: list[str]) -> str:
    try:
        result = subprocess.run(
            ["systemctl", *arguments], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as error:
        raise BootEntryError(f"systemctl {arguments[0]}: {error}") from None
    if result.returncode != 0:
        raise BootEntryError(f"systemctl {arguments[0]}: {result.stderr.strip()}")
    return result.stdout
