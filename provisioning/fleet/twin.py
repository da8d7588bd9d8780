"""The twin on the box: a desired configuration from the centre, applied once and never an
older one, validated with the file's own models, written atomically, then watched.

States (box_twin.state), each sent to the centre as a `twin_reported`:
- rejected: the sections broke their models; nothing written, the errors name the keys;
- applying: written; the service restarts on the new file and watches its health for the
  grace period (from its restart on);
- rolled_back: within the grace period the service failed, a device connected before the
  change was still not connected at its end, or the new file did not load at all: the file
  before (`carec-edge.toml.previous`) is put back and the service restarts again;
- applied: the grace period passed healthy.

`TwinApplier` runs in the inbox's transaction; the rest (`TwinWatch`) runs on the wiring's
store thread between two inbox batches.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.engine import Row

from edge.config import ConfigError, read_config_text
from edge.logs import log_event
from edge.store.schema import box_twin
from edge.timeutil import format_utc, utcnow
from provisioning.fleet import config_file
from provisioning.fleet.config_file import ConfigCheck
from sync.envelope import Envelope
from sync.messages import TwinDesiredMessage, TwinReportedMessage
from sync.outbox import NoRouteError, Outbox

log = logging.getLogger(__name__)

KEEP_TWINS = 100  # rows of box_twin kept, newest first (retention)
MAX_ERRORS = 64


@dataclass(frozen=True)
class FleetSettings:
    node_id: str
    report_to: str  # the centre; empty: fleet management is off
    software_version: str
    config_path: Path | None = None  # None: the service runs on no file, nothing to rewrite
    grace_s: int = 0  # 0: the twin's own


def check_origin(settings: FleetSettings, envelope: Envelope) -> None:
    """Only the box's own centre may configure or command it (ValueError: quarantined)."""
    if not settings.report_to:
        raise ValueError(
            f"{envelope.type} from {envelope.origin}: fleet management is off on this box"
            " ([fleet] report_to is empty)"
        )
    if envelope.origin != settings.report_to:
        raise ValueError(
            f"{envelope.type} from {envelope.origin}: this box takes them from"
            f" {settings.report_to} only"
        )


@dataclass(frozen=True)
class Verdict:
    version: int
    state: str  # applied | rolled_back
    reason: str = ""


class TwinReporter:
    """Sends a row's state to the centre, in the caller's transaction, once per state."""

    def __init__(
        self,
        outbox: Outbox,
        settings: FleetSettings,
        devices_found: Callable[[], Sequence[str]],
    ) -> None:
        self.outbox = outbox
        self.settings = settings
        self.devices_found = devices_found
        self._unroutable: set[str] = set()

    def report(self, conn: Connection, row: Row[Any]) -> bool:
        applied = applied_version(conn)
        message = TwinReportedMessage(
            node=self.settings.node_id,
            desired_version=row.version,
            state=row.state,
            applied_version=applied,
            errors=tuple(e[:300] for e in json.loads(row.errors)[:MAX_ERRORS]),
            software_version=self.settings.software_version[:64] or "unknown",
            devices_found=tuple(self.devices_found())[:64],
            reported_at=utcnow(),
        )
        try:
            self.outbox.send_many([(message, row.origin, None)], conn)
        except NoRouteError:
            if row.origin not in self._unroutable:  # once: report_pending tries every second
                self._unroutable.add(row.origin)
                log_event(log, logging.WARNING, "twin.no_route", to=row.origin)
            return False
        conn.execute(
            update(box_twin)
            .where(box_twin.c.version == row.version)
            .values(reported_state=row.state)
        )
        return True

    def report_pending(self, engine: Engine) -> int:
        """Send every state not yet reported (a rollback made before sync was up); how many."""
        sent = 0
        with engine.begin() as conn:
            rows = conn.execute(
                select(box_twin).where(
                    (box_twin.c.reported_state.is_(None))
                    | (box_twin.c.reported_state != box_twin.c.state)
                )
            ).all()
            for row in rows:
                sent += self.report(conn, row)
        return sent


def applied_version(conn: Connection) -> int:
    found = conn.execute(
        select(func.max(box_twin.c.version)).where(box_twin.c.state == "applied")
    ).scalar()
    return int(found or 0)


class TwinApplier:
    """The `twin_desired` applier, in the inbox's transaction."""

    def __init__(
        self,
        reporter: TwinReporter,
        *,
        check_config: ConfigCheck | None = None,
        connected_devices: Callable[[], Sequence[str]] = tuple,
        on_applying: Callable[[], None] = lambda: None,
    ) -> None:
        self.reporter = reporter
        self.settings = reporter.settings
        self.check_config = check_config
        self.connected_devices = connected_devices
        self.on_applying = on_applying

    def __call__(self, conn: Connection, envelope: Envelope) -> None:
        check_origin(self.settings, envelope)
        desired = envelope.payload
        assert isinstance(desired, TwinDesiredMessage)
        if desired.node != self.settings.node_id:
            raise ValueError(
                f"twin_desired for {desired.node}, this box is {self.settings.node_id}"
            )
        latest = conn.execute(select(box_twin).order_by(box_twin.c.version.desc()).limit(1)).first()
        if latest is not None and desired.version <= latest.version:
            log_event(
                log, logging.WARNING, "twin.stale", version=desired.version, latest=latest.version
            )
            self.reporter.report(conn, latest)  # once per stale message: the centre learns
            return
        sections: dict[str, Any] = {str(k): v for k, v in desired.sections.items()}
        if latest is not None and latest.state == "applying":
            # One change at a time: the one before must hold (or be rolled back) first, so that
            # a rollback always goes back to a file that was proven.
            until = f"until {format_utc(latest.grace_until)}" if latest.grace_until else ""
            text, errors = (
                None,
                [
                    f"version: {latest.version} is still being applied (its grace period runs"
                    f" {until or 'from its restart'}); send this change again after it"
                ],
            )
        else:
            text, errors = self._prepare(sections)
        now = utcnow()
        conn.execute(
            insert(box_twin).values(
                version=desired.version, state="rejected" if errors else "applying",
                issued_by=desired.issued_by, origin=envelope.origin,
                grace_s=self.settings.grace_s or desired.grace_s, received_at=now,
                updated_at=now, devices_before=json.dumps(sorted(self.connected_devices())),
                errors=json.dumps(errors[:MAX_ERRORS]),
            )
        )  # fmt: skip
        if not errors and text is not None and self.settings.config_path is not None:
            try:
                config_file.write(self.settings.config_path, text)
            except OSError as error:
                errors = [f"{self.settings.config_path}: cannot write: {error.strerror or error}"]
                _set_state(conn, desired.version, "rejected", errors, now)
        row = _row(conn, desired.version)
        log_event(
            log, logging.INFO if not errors else logging.WARNING, "twin.received",
            version=desired.version, state=row.state, sections=",".join(sorted(sections)),
            errors=len(errors),
        )  # fmt: skip
        self.reporter.report(conn, row)
        if row.state == "applying":
            self.on_applying()

    def _prepare(self, sections: dict[str, Any]) -> tuple[str | None, list[str]]:
        """The new file's text, or the errors that keep it from being written."""
        path = self.settings.config_path
        if path is None:
            return None, ["the service runs without a config file: nothing to change"]
        if errors := config_file.section_errors(sections):
            return None, errors
        try:
            original = read_config_text(path)
            data = config_file.load_data(path)
            merged = config_file.merge(data, sections)
            _, errors = config_file.check(path, merged, self.check_config)
            if errors:
                return None, errors
            return config_file.render(original, merged, set(sections)), []
        except ConfigError as error:
            return None, [f"the box's own file: {p}" for p in error.problems]
        except ValueError as error:  # a value with no TOML form
            return None, [f"sections: {error}"]


def _row(conn: Connection, version: int) -> Row[Any]:
    return conn.execute(select(box_twin).where(box_twin.c.version == version)).one()


def _set_state(
    conn: Connection, version: int, state: str, errors: Sequence[str], now: dt.datetime
) -> None:
    conn.execute(
        update(box_twin)
        .where(box_twin.c.version == version)
        .values(state=state, errors=json.dumps(list(errors)[:MAX_ERRORS]), updated_at=now)
    )


class TwinWatch:
    """After a twin is written: the restart it needs, its grace period, its verdict."""

    def __init__(self, engine: Engine, settings: FleetSettings) -> None:
        self.engine = engine
        self.settings = settings

    def started(self, now: dt.datetime) -> list[int]:
        """At the service's start: a twin written before it starts its grace period now."""
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(box_twin.c.version, box_twin.c.grace_s).where(
                    box_twin.c.state == "applying", box_twin.c.restarted_at.is_(None)
                )
            ).all()
            for version, grace_s in rows:
                conn.execute(
                    update(box_twin)
                    .where(box_twin.c.version == version)
                    .values(
                        restarted_at=now,
                        grace_until=now + dt.timedelta(seconds=grace_s),
                        updated_at=now,
                    )
                )
        return [version for version, _ in rows]

    def needs_restart(self) -> bool:
        """A twin written while running: the service must start again on the new file."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(box_twin.c.version).where(
                    box_twin.c.state == "applying", box_twin.c.restarted_at.is_(None)
                )
            ).first()
        return found is not None

    def watching(self) -> Row[Any] | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(box_twin).where(
                    box_twin.c.state == "applying", box_twin.c.restarted_at.is_not(None)
                )
            ).first()

    def judge(
        self,
        now: dt.datetime,
        *,
        failing: str | None,
        connected: Sequence[str],
        configured: Sequence[str] | None = None,
    ) -> Verdict | None:
        """The watched twin's verdict, once there is one: rolled back as soon as the service
        fails (`failing` says why), and at the end of the grace period when a device connected
        before, and still `configured`, is not connected; applied when the grace period passed
        healthy. A device the change removed is not missed."""
        row = self.watching()
        if row is None:
            return None
        if failing:
            return Verdict(row.version, "rolled_back", f"service failing: {failing}")
        if now < row.grace_until:
            return None
        before = set(json.loads(row.devices_before))
        if configured is not None:
            before &= set(configured)
        missing = sorted(before - set(connected))
        if missing:
            return Verdict(
                row.version,
                "rolled_back",
                f"devices connected before the change are not: {', '.join(missing)}",
            )
        return Verdict(row.version, "applied")

    def settle(self, verdict: Verdict, now: dt.datetime) -> None:
        """Record the verdict; a rollback puts the file before back first."""
        if verdict.state == "rolled_back" and self.settings.config_path is not None:
            config_file.restore_previous(self.settings.config_path)
        errors = [verdict.reason] if verdict.reason else []
        with self.engine.begin() as conn:
            _set_state(conn, verdict.version, verdict.state, errors, now)
        log_event(
            log, logging.WARNING if verdict.state == "rolled_back" else logging.INFO,
            f"twin.{verdict.state}", version=verdict.version, reason=verdict.reason[:300],
        )  # fmt: skip

    def purge(self) -> int:
        """Retention: the newest KEEP_TWINS rows stay; how many went."""
        with self.engine.begin() as conn:
            cutoff = conn.execute(
                select(box_twin.c.version)
                .order_by(box_twin.c.version.desc())
                .offset(KEEP_TWINS)
                .limit(1)
            ).scalar()
            if cutoff is None:
                return 0
            return conn.execute(delete(box_twin).where(box_twin.c.version <= cutoff)).rowcount


def roll_back_unloadable(engine: Engine, config_path: Path, problems: Sequence[str]) -> bool:
    """The service could not load the file a twin wrote: put the one before back and record
    the rollback (reported once sync is up). False when no twin is being applied (the file is
    the box's own doing: nothing to roll back to)."""
    now = utcnow()
    with engine.begin() as conn:
        row = conn.execute(
            select(box_twin.c.version)
            .where(box_twin.c.state == "applying")
            .order_by(box_twin.c.version.desc())
        ).first()
        if row is None or not config_file.restore_previous(config_path):
            return False
        reason = "the new configuration did not load: " + "; ".join(problems)
        _set_state(conn, row.version, "rolled_back", [reason[:300]], now)
    log_event(log, logging.WARNING, "twin.rolled_back", version=row.version, reason=reason[:300])
    return True
