"""Commands from the centre: recorded once by their id in the inbox's transaction (the
idempotency key: seen again, the first result goes back again), refused when not for this box
or expired, then executed by the wiring outside that transaction, one at a time, each result
sent back as a `command_result` with the row updated in the same transaction.

Every command is audited: its row in `box_commands` (action, who issued it, when, outcome) and
a log line with its action and id (never its output: a diagnostics bundle stays in the row)."""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import SQLAlchemyError

from edge.logs import error_first_line, log_event
from edge.store.schema import box_commands
from edge.timeutil import format_utc, utcnow
from provisioning.fleet.health_report import DeviceFigure
from provisioning.fleet.twin import FleetSettings, check_origin
from sync.envelope import Envelope
from sync.messages import CommandMessage, CommandResultMessage
from sync.outbox import NoRouteError, Outbox

log = logging.getLogger(__name__)

MAX_OUTPUT = 16_000  # CommandResultMessage.output
PENDING = "pending"


@dataclass(frozen=True)
class CommandOutcome:
    outcome: str  # done | failed | refused
    output: str = ""
    attachment: str | None = None


@dataclass(frozen=True)
class PendingCommand:
    command_id: str
    action: str
    expires_at: dt.datetime
    # What the action needs besides its name (an update: "target" and "rollout").
    arguments: Mapping[str, str] = field(default_factory=dict)


class Commands:
    """The box's record of the centre's commands, and the `command` applier."""

    def __init__(
        self, engine: Engine, outbox: Outbox, settings: FleetSettings,
        on_pending: Callable[[], None] = lambda: None,
    ) -> None:  # fmt: skip
        self.engine = engine
        self.outbox = outbox
        self.settings = settings
        self.on_pending = on_pending

    # -- in the inbox's transaction ------------------------------------------------------------

    def __call__(self, conn: Connection, envelope: Envelope) -> None:
        check_origin(self.settings, envelope)
        command = envelope.payload
        assert isinstance(command, CommandMessage)
        seen = _row(conn, command.command_id)
        if seen is not None:
            log_event(
                log, logging.INFO, "command.repeated", command=command.command_id,
                action=seen.action, state=seen.state,
            )  # fmt: skip
            if seen.state != PENDING:
                self._send_result(conn, seen)  # the first result, again
            return
        now = utcnow()
        state, output = PENDING, ""
        if command.node != self.settings.node_id:
            state = "refused"
            output = f"addressed to {command.node}; this box is {self.settings.node_id}"
        elif command.expires_at <= now:
            state, output = "expired", f"expired at {format_utc(command.expires_at)}"
        conn.execute(
            insert(box_commands).values(
                command_id=command.command_id, action=command.action,
                issued_by=command.issued_by, origin=envelope.origin, received_at=now,
                expires_at=command.expires_at, state=state, output=output,
                finished_at=None if state == PENDING else now, arguments=_arguments(command),
            )
        )  # fmt: skip
        log_event(
            log, logging.INFO, "command.received", command=command.command_id,
            action=command.action, issued_by=command.issued_by, state=state,
        )  # fmt: skip
        if state == PENDING:
            self.on_pending()
        elif (row := _row(conn, command.command_id)) is not None:
            self._send_result(conn, row)

    # -- on the wiring's store thread ----------------------------------------------------------

    def pending(self) -> list[PendingCommand]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(box_commands.c.command_id, box_commands.c.action,
                       box_commands.c.expires_at, box_commands.c.arguments)
                .where(box_commands.c.state == PENDING)
                .order_by(box_commands.c.received_at)
            ).all()  # fmt: skip
        return [
            PendingCommand(r.command_id, r.action, r.expires_at, json.loads(r.arguments or "{}"))
            for r in rows
        ]

    def finish(self, command_id: str, result: CommandOutcome) -> None:
        """Record the command's result and send it, in one transaction."""
        output = result.output[:MAX_OUTPUT]
        with self.engine.begin() as conn:
            conn.execute(
                update(box_commands)
                .where(box_commands.c.command_id == command_id, box_commands.c.state == PENDING)
                .values(
                    state=result.outcome, output=output, attachment=result.attachment,
                    finished_at=utcnow(),
                )
            )  # fmt: skip
            row = _row(conn, command_id)
            if row is not None:
                self._send_result(conn, row)
        if row is not None:
            log_event(
                log, logging.INFO if result.outcome == "done" else logging.WARNING,
                "command.finished", command=command_id, action=row.action, outcome=row.state,
            )  # fmt: skip

    def purge(self, before: dt.datetime) -> int:
        """Retention: commands finished before `before` go."""
        with self.engine.begin() as conn:
            return conn.execute(
                delete(box_commands).where(box_commands.c.finished_at < before)
            ).rowcount

    def _send_result(self, conn: Connection, row: Row[Any]) -> None:
        result = CommandResultMessage(
            command_id=row.command_id, node=self.settings.node_id, action=row.action,
            outcome=row.state, output=row.output[:MAX_OUTPUT], attachment=row.attachment,
            finished_at=row.finished_at or utcnow(),
        )  # fmt: skip
        try:
            self.outbox.send_many([(result, row.origin, None)], conn)
        except NoRouteError:
            log_event(log, logging.WARNING, "command.no_route", to=row.origin)


def _arguments(command: CommandMessage) -> str | None:
    found = {"target": command.target, "rollout": command.rollout}
    given = {name: value for name, value in found.items() if value is not None}
    return json.dumps(given, sort_keys=True) if given else None


def _row(conn: Connection, command_id: str) -> Row[Any] | None:
    return conn.execute(select(box_commands).where(box_commands.c.command_id == command_id)).first()


def expired(command: PendingCommand, now: dt.datetime) -> CommandOutcome | None:
    """A command that waited past its expiry is not run."""
    if command.expires_at <= now:
        return CommandOutcome("expired", f"expired at {format_utc(command.expires_at)}")
    return None


# --- what the actions do, from figures the wiring hands in ----------------------------------------


def store_check(engine: Engine) -> str:
    """SQLite's quick check of the store: "ok", or what it found."""
    try:
        with engine.connect() as conn:
            found = [str(r[0]) for r in conn.execute(text("PRAGMA quick_check")).all()]
    except SQLAlchemyError as error:
        return f"cannot check: {error_first_line(error)}"
    return "ok" if found == ["ok"] else "; ".join(found)[:500]


def self_test(
    devices: Sequence[DeviceFigure], store: str, extra: Sequence[str] = ()
) -> CommandOutcome:
    """The self-test's summary: the store's check, then each device; done when every one is
    fine, failed otherwise. `extra`: further "name: problem" lines the wiring found."""
    lines = [f"store: {store}"]
    failed = store != "ok" or bool(extra)
    for device in devices:
        fine = device.health == "connected"
        failed |= not fine
        why = f" ({device.why})" if device.why and not fine else ""
        lines.append(
            f"device {device.id} ({device.kind}, lane {device.lane}): {device.health}{why}"
        )
    if not devices:
        lines.append("devices: none configured")
    lines += list(extra)
    verdict = "FAILED" if failed else "passed"
    return CommandOutcome(
        "failed" if failed else "done", f"self-test {verdict}\n" + "\n".join(lines)
    )


def refused_reboot() -> CommandOutcome:
    return CommandOutcome("refused", "reboot not allowed on this host")
