"""The fleet desk: what the fleet operator does to boxes, and what the console reads of them.

A desired configuration (`set_desired`) is checked with the box's own models, versioned, stored
in `fleet_twins` and sent to the box as a signed `twin_desired`, in one transaction with its
audit entry; a command (`issue_command`) likewise, with an id that is its idempotency key and
an expiry. The read side (`boxes`, `box`, `history`) is what the fleet pages show.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, get_args

import orjson
from pydantic import ValidationError
from sqlalchemy import Connection, Engine, insert, select, update
from sqlalchemy.exc import IntegrityError

from centre.audit import audit
from centre.config import FleetSection
from centre.fleet.alerts import open_alert_counts
from centre.fleet.history import METRICS, read_history
from centre.fleet.reports import pairs
from centre.fleet.sections import section_problems
from centre.store.schema import (
    fleet_alerts,
    fleet_boxes,
    fleet_commands,
    fleet_health,
    fleet_twins,
)
from edge.logs import log_event
from edge.timeutil import utcnow
from sync.messages import (
    CommandAction,
    CommandMessage,
    TwinDesiredMessage,
    describe_payload_error,
    new_message_id,
)
from sync.outbox import Outbox

log = logging.getLogger(__name__)

ACTIONS: tuple[str, ...] = get_args(CommandAction)
MAX_TTL = dt.timedelta(days=7)
MAX_BOXES_PER_COMMAND = 1000
SHOWN_ALERTS = 100
SHOWN_COMMANDS = 50


class FleetError(ValueError):
    """An operator's request the desk refuses, with one reason per problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class BoxSummary:
    node_id: str
    country: str
    crossing: str  # the node id's post part: KZ-NURZHOLY-1 -> NURZHOLY
    state: str  # registered, pending, enrolled, refused, revoked; "reporting": not enrolled here
    colour: str  # green, amber, red; grey: silent or never reported
    last_seen: dt.datetime | None
    open_alerts: int
    desired_version: int
    applied_version: int
    twin_state: str | None
    software_version: str | None


@dataclass(frozen=True)
class Alert:
    id: int
    kind: str
    subject: str
    reason: str
    raised_at: dt.datetime
    cleared_at: dt.datetime | None


@dataclass(frozen=True)
class Command:
    command_id: str
    action: str
    issued_by: str
    issued_at: dt.datetime
    expires_at: dt.datetime
    state: str
    output: str | None
    has_attachment: bool
    finished_at: dt.datetime | None


@dataclass(frozen=True)
class Twin:
    desired_version: int
    desired: dict[str, Any]
    desired_by: str | None
    desired_at: dt.datetime | None
    grace_s: int
    reported_desired_version: int
    reported_state: str | None
    applied_version: int
    reported: dict[str, Any] | None
    reported_at: dt.datetime | None


@dataclass(frozen=True)
class BoxDetail:
    summary: BoxSummary
    serial: str | None
    certificate_not_after: dt.datetime | None
    twin: Twin | None
    health: dict[str, Any] | None  # the latest health report, as the box sent it
    health_at: dt.datetime | None
    alerts: list[Alert]  # open ones first, then the latest cleared
    commands: list[Command]  # the latest first


class FleetDesk:
    def __init__(
        self,
        engine: Engine,
        outbox: Outbox,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        settings: FleetSection | None = None,
    ) -> None:
        self.engine = engine
        self.outbox = outbox
        self.clock = clock
        self.settings = settings or FleetSection()

    # -- operators' actions -----------------------------------------------------------------

    def set_desired(
        self, node_id: str, sections: Mapping[str, Any], *, operator: str, grace_s: int = 300
    ) -> int:
        """Merge `sections` into the box's desired configuration, as a new version sent to the
        box; the version. FleetError names each bad key (nothing stored nor sent then)."""
        if not 10 <= grace_s <= 24 * 3600:
            raise FleetError([f"grace_s: {grace_s}; between 10 s and a day"])
        now = self.clock()
        try:
            version = self._store_desired(node_id, sections, operator, grace_s, now)
        except IntegrityError:  # another operator's first twin for this box, committed first
            raise FleetError(
                [
                    f"{node_id}: another operator changed this box's configuration at the same "
                    "moment; look at it again and retry"
                ]
            ) from None
        log_event(log, logging.INFO, "fleet.twin_desired", node=node_id, version=version,
                  sections=",".join(sorted(sections)))  # fmt: skip
        return version

    def _store_desired(
        self,
        node_id: str,
        sections: Mapping[str, Any],
        operator: str,
        grace_s: int,
        now: dt.datetime,
    ) -> int:
        with self.engine.begin() as conn:
            self._enrolled(conn, [node_id])
            query = select(fleet_twins).where(fleet_twins.c.node_id == node_id)
            if conn.dialect.name == "postgresql":
                query = query.with_for_update()
            twin = conn.execute(query).first()
            desired = {**(orjson.loads(twin.desired) if twin else {}), **sections}
            problems = section_problems(desired)
            if problems:
                raise FleetError(problems)
            version = (twin.desired_version if twin else 0) + 1
            values = {"desired_version": version, "desired": orjson.dumps(desired).decode(),
                      "desired_by": operator, "desired_at": now, "grace_s": grace_s}  # fmt: skip
            if twin is None:
                conn.execute(insert(fleet_twins).values(
                    node_id=node_id, reported_desired_version=0, applied_version=0, **values
                ))  # fmt: skip
            else:
                conn.execute(update(fleet_twins).where(fleet_twins.c.node_id == node_id), values)
            message = TwinDesiredMessage(
                node=node_id, version=version, issued_by=operator, issued_at=now,
                sections=desired, grace_s=grace_s,
            )  # fmt: skip
            self.outbox.send_many([(message, node_id, None)], conn)
            audit(conn, operator, "fleet.twin", f"box:{node_id}", "",
                  f"version {version}: " + ", ".join(sorted(sections)))  # fmt: skip
        return version

    def issue_command(
        self,
        node_ids: Sequence[str],
        action: str,
        *,
        operator: str,
        ttl: dt.timedelta,
        target: str | None = None,
        rollout: str | None = None,
    ) -> list[str]:
        """Send `action` to each box, to be done once before now + ttl; the command ids, in
        the order of `node_ids`. `target` and `rollout`: an update's (centre.updates)."""
        problems = []
        if action not in ACTIONS:
            problems.append(f"action: {action!r}; one of {', '.join(ACTIONS)}")
        if not dt.timedelta(seconds=10) <= ttl <= MAX_TTL:
            problems.append(f"ttl: {ttl}; between 10 s and {MAX_TTL.days} days")
        if not node_ids or len(node_ids) > MAX_BOXES_PER_COMMAND:
            problems.append(f"boxes: {len(node_ids)}; between 1 and {MAX_BOXES_PER_COMMAND}")
        if len(set(node_ids)) != len(node_ids):
            problems.append("boxes: a box is named twice")
        if problems:
            raise FleetError(problems)
        with self.engine.begin() as conn:
            self._enrolled(conn, node_ids)
            return self.send_commands(
                conn, node_ids, action, operator=operator, ttl=ttl, target=target,
                rollout=rollout,
            )  # fmt: skip

    def send_commands(
        self,
        conn: Connection,
        node_ids: Sequence[str],
        action: str,
        *,
        operator: str,
        ttl: dt.timedelta,
        target: str | None = None,
        rollout: str | None = None,
    ) -> list[str]:
        """`issue_command` inside the caller's transaction, for boxes it checked."""
        now = self.clock()
        expires = now + ttl
        ids = [new_message_id() for _ in node_ids]
        try:
            messages = [
                (CommandMessage(command_id=command_id, node=node, action=action,
                                issued_by=operator, issued_at=now, expires_at=expires,
                                target=target, rollout=rollout), node, None)
                for command_id, node in zip(ids, node_ids, strict=True)
            ]  # fmt: skip
        except ValidationError as error:
            raise FleetError(describe_payload_error(error)) from None
        conn.execute(insert(fleet_commands), [
            {"command_id": command_id, "node_id": node, "action": action,
             "issued_by": operator, "issued_at": now, "expires_at": expires, "state": "sent"}
            for command_id, node in zip(ids, node_ids, strict=True)
        ])  # fmt: skip
        self.outbox.send_many(messages, conn)
        what = action if target is None else f"{action} {target}"
        for command_id, node in zip(ids, node_ids, strict=True):
            audit(conn, operator, "fleet.command", f"box:{node}", "",
                  f"{what} {command_id}, expires {expires.isoformat()}")  # fmt: skip
        for command_id, node in zip(ids, node_ids, strict=True):
            log_event(log, logging.INFO, "fleet.command_sent", node=node, command=command_id,
                      action=action)  # fmt: skip
        return ids

    def _enrolled(self, conn: Connection, node_ids: Sequence[str]) -> None:
        states = pairs(
            conn.execute(
                select(fleet_boxes.c.node_id, fleet_boxes.c.state)
                .where(fleet_boxes.c.node_id.in_(list(node_ids)))
            )
        )  # fmt: skip
        problems = [
            f"{node}: not a box of this fleet" if node not in states
            else f"{node}: {states[node]}, not enrolled"
            for node in node_ids if states.get(node) != "enrolled"
        ]  # fmt: skip
        if problems:
            raise FleetError(problems)

    # -- what the console reads --------------------------------------------------------------

    def boxes(self) -> list[BoxSummary]:
        """Every box the fleet knows (enrolled or not, and any that reports without being
        enrolled here), by node id."""
        with self.engine.connect() as conn:
            return self._summaries(conn, None)

    def box(self, node_id: str) -> BoxDetail | None:
        with self.engine.connect() as conn:
            summaries = self._summaries(conn, node_id)
            if not summaries:
                return None
            box = conn.execute(
                select(fleet_boxes.c.serial, fleet_boxes.c.certificate_not_after)
                .where(fleet_boxes.c.node_id == node_id)
            ).first()  # fmt: skip
            twin = conn.execute(select(fleet_twins).where(fleet_twins.c.node_id == node_id)).first()
            health = conn.execute(
                select(fleet_health.c.at, fleet_health.c.report)
                .where(fleet_health.c.node_id == node_id)
            ).first()  # fmt: skip
            alerts = conn.execute(
                select(fleet_alerts).where(fleet_alerts.c.node_id == node_id)
                .order_by(fleet_alerts.c.cleared_at.is_not(None), fleet_alerts.c.id.desc())
                .limit(SHOWN_ALERTS)
            ).all()  # fmt: skip
            commands = conn.execute(
                select(fleet_commands).where(fleet_commands.c.node_id == node_id)
                .order_by(fleet_commands.c.issued_at.desc()).limit(SHOWN_COMMANDS)
            ).all()  # fmt: skip
        return BoxDetail(
            summary=summaries[0],
            serial=box.serial if box else None,
            certificate_not_after=box.certificate_not_after if box else None,
            twin=_twin(twin) if twin else None,
            health=orjson.loads(health.report) if health else None,
            health_at=health.at if health else None,
            alerts=[
                Alert(a.id, a.kind, a.subject, a.reason, a.raised_at, a.cleared_at) for a in alerts
            ],
            commands=[_command(c) for c in commands],
        )

    def attachment(self, command_id: str) -> str | None:
        """A command's diagnostics bundle as the box sent it (base64 of a gzip'd tar)."""
        with self.engine.connect() as conn:
            return conn.execute(
                select(fleet_commands.c.attachment)
                .where(fleet_commands.c.command_id == command_id)
            ).scalar_one_or_none()  # fmt: skip

    def history(
        self, node_id: str, metric: str, since: dt.datetime
    ) -> list[tuple[dt.datetime, float, float, float]]:
        """(bucket, mean, min, max) of a health metric from `since` on: 5-minute buckets while
        they are kept, hourly ones for longer spans."""
        if metric not in METRICS:
            raise FleetError([f"metric: {metric!r}; one of {', '.join(METRICS)}"])
        fine_from = self.clock() - dt.timedelta(days=self.settings.history_300s_days)
        resolution = 300 if since >= fine_from else 3600
        with self.engine.connect() as conn:
            return read_history(conn, node_id, metric, since, resolution)

    def _summaries(self, conn: Connection, node_id: str | None) -> list[BoxSummary]:
        def only(query: Any, column: Any) -> Any:
            return query if node_id is None else query.where(column == node_id)

        boxes = {
            row.node_id: row.state
            for row in conn.execute(only(select(fleet_boxes.c.node_id, fleet_boxes.c.state),
                                         fleet_boxes.c.node_id))
        }  # fmt: skip
        health = {
            row.node_id: row
            for row in conn.execute(
                only(select(fleet_health.c.node_id, fleet_health.c.received_at,
                            fleet_health.c.colour, fleet_health.c.report),
                     fleet_health.c.node_id)
            )
        }  # fmt: skip
        twins = {
            row.node_id: row
            for row in conn.execute(
                only(select(fleet_twins.c.node_id, fleet_twins.c.desired_version,
                            fleet_twins.c.applied_version, fleet_twins.c.reported_state,
                            fleet_twins.c.reported),
                     fleet_twins.c.node_id)
            )
        }  # fmt: skip
        alerts = open_alert_counts(conn)
        silent_before = self.clock() - dt.timedelta(minutes=self.settings.silent_minutes)
        out = []
        for node in sorted(set(boxes) | set(health)):
            seen = health.get(node)
            twin = twins.get(node)
            report = orjson.loads(seen.report) if seen else {}
            colour = "grey" if seen is None or seen.received_at < silent_before else seen.colour
            out.append(BoxSummary(
                node_id=node, country=node[:2], crossing=node.split("-")[1] if "-" in node else "",
                state=boxes.get(node, "reporting"), colour=colour,
                last_seen=seen.received_at if seen else None, open_alerts=alerts.get(node, 0),
                desired_version=twin.desired_version if twin else 0,
                applied_version=twin.applied_version if twin else 0,
                twin_state=twin.reported_state if twin else None,
                software_version=report.get("software_version"),
            ))  # fmt: skip
        return out


def _command(c: Any) -> Command:
    return Command(
        c.command_id, c.action, c.issued_by, c.issued_at, c.expires_at, c.state, c.output,
        c.attachment is not None, c.finished_at,
    )  # fmt: skip


def _twin(row: Any) -> Twin:
    return Twin(
        desired_version=row.desired_version, desired=orjson.loads(row.desired),
        desired_by=row.desired_by, desired_at=row.desired_at, grace_s=row.grace_s,
        reported_desired_version=row.reported_desired_version,
        reported_state=row.reported_state, applied_version=row.applied_version,
        reported=orjson.loads(row.reported) if row.reported else None,
        reported_at=row.reported_at,
    )  # fmt: skip
