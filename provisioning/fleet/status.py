"""What the box shows of its fleet management (`carec-edge fleet status`, the kiosk's
technician): enrolled or not and until when, the twin's versions and state, the commands
waiting and the latest ones, and when the last health report went out."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sqlalchemy import Connection, Engine, insert, select, update

from edge.store.schema import box_commands, box_fleet_marks, box_twin
from edge.timeutil import format_utc
from provisioning.fleet import key_rotation
from provisioning.identity.certificates import load_certificate
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.errors import IdentityError

HEALTH_SENT = "health_sent"
RECENT_COMMANDS = 10


@dataclass(frozen=True)
class CommandLine:
    command_id: str
    action: str
    state: str
    issued_by: str
    received_at: dt.datetime
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class FleetStatus:
    enrolled: bool
    certificate_not_after: dt.datetime | None
    certificate_problem: str | None
    key_rotation_pending: bool
    report_to: str
    twin_desired_version: int
    twin_applied_version: int
    twin_state: str | None
    twin_errors: list[str] = field(default_factory=list)
    pending_commands: list[CommandLine] = field(default_factory=list)
    recent_commands: list[CommandLine] = field(default_factory=list)
    last_health_at: dt.datetime | None = None

    def to_dict(self) -> dict[str, object]:
        def plain(value: object) -> object:
            if isinstance(value, dt.datetime):
                return format_utc(value)
            if isinstance(value, list):
                return [plain(v) for v in value]
            if isinstance(value, dict):
                return {k: plain(v) for k, v in value.items()}
            return value

        return {k: plain(v) for k, v in asdict(self).items()}


def certificate_expiry(identity_dir: Path) -> tuple[bool, dt.datetime | None, str | None]:
    """(enrolled, not after, why not readable): enrolled when node.crt is there."""
    path = identity_dir / NODE_CERT
    if not path.exists():
        return False, None, None
    try:
        return True, load_certificate(path).not_valid_after_utc, None
    except (IdentityError, OSError, ValueError) as error:
        return True, None, str(error)[:300]


def fleet_status(engine: Engine, identity_dir: Path, report_to: str = "") -> FleetStatus:
    enrolled, not_after, problem = certificate_expiry(identity_dir)
    with engine.connect() as conn:
        latest = conn.execute(select(box_twin).order_by(box_twin.c.version.desc()).limit(1)).first()
        applied = conn.execute(
            select(box_twin.c.version)
            .where(box_twin.c.state == "applied")
            .order_by(box_twin.c.version.desc())
            .limit(1)
        ).scalar()
        pending = _commands(conn, pending=True)
        recent = _commands(conn, pending=False)
        health_at = conn.execute(
            select(box_fleet_marks.c.at).where(box_fleet_marks.c.name == HEALTH_SENT)
        ).scalar()
    return FleetStatus(
        enrolled=enrolled,
        certificate_not_after=not_after,
        certificate_problem=problem,
        key_rotation_pending=key_rotation.pending(identity_dir),
        report_to=report_to,
        twin_desired_version=latest.version if latest else 0,
        twin_applied_version=int(applied or 0),
        twin_state=latest.state if latest else None,
        twin_errors=list(json.loads(latest.errors)) if latest else [],
        pending_commands=pending,
        recent_commands=recent,
        last_health_at=health_at,
    )


def _commands(conn: Connection, *, pending: bool) -> list[CommandLine]:
    query = select(
        box_commands.c.command_id, box_commands.c.action, box_commands.c.state,
        box_commands.c.issued_by, box_commands.c.received_at, box_commands.c.finished_at,
    ).order_by(box_commands.c.received_at.desc())  # fmt: skip
    if pending:
        query = query.where(box_commands.c.state == "pending")
    else:
        query = query.limit(RECENT_COMMANDS)
    return [CommandLine(*row) for row in conn.execute(query).all()]


def mark(engine: Engine, name: str, at: dt.datetime) -> None:
    """Remember when `name` last happened (one row a name)."""
    with engine.begin() as conn:
        changed = conn.execute(
            update(box_fleet_marks).where(box_fleet_marks.c.name == name).values(at=at)
        ).rowcount
        if not changed:
            conn.execute(insert(box_fleet_marks).values(name=name, at=at))
