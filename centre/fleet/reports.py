"""What boxes report to the fleet service, applied inside the inbox's transaction, a batch at
a time (`sync.inbox.Effects`; `centre.box_events` hands each batch's fleet messages here):

- `health`: the box's latest report (`fleet_health`, with its colour), folded into its
  history's buckets (`centre.fleet.history`), and its alerts raised or cleared;
- `twin_reported`: what the box did with a desired version (`fleet_twins`), a rollback or a
  rejection raising an alert until a later version applies;
- `command_result`: what came of a command (`fleet_commands`); a result for a command the
  centre never sent that box is refused (the inbox quarantines it with the reason).

The update rollouts (`centre.updates.rollout_store`), when given, see each batch's latest
health reports and command results in the same transaction: a box's update phase moves its
rollout on.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import Any, Protocol

from sqlalchemy import Connection, insert, select, update

from centre.config import FleetSection
from centre.fleet.alerts import HEALTH_KINDS, Finding, colour_of, health_findings, reconcile
from centre.fleet.history import fold_history, upsert
from centre.store.schema import fleet_commands, fleet_health, fleet_twins
from edge.logs import log_event
from edge.timeutil import utcnow
from sync.envelope import Envelope
from sync.messages import CommandResultMessage, HealthMessage, TwinReportedMessage

log = logging.getLogger(__name__)

FLEET_TYPES = ("health", "twin_reported", "command_result")
FINISHED = ("done", "failed", "expired", "refused")


class UpdateProgress(Protocol):
    """What the update rollouts take from the boxes' reports (centre.updates.rollout_store)."""

    def health(
        self, conn: Connection, reports: Sequence[HealthMessage], now: dt.datetime
    ) -> None: ...

    def results(
        self, conn: Connection, results: Sequence[CommandResultMessage], now: dt.datetime
    ) -> None: ...


class FleetReports:
    def __init__(
        self,
        settings: FleetSection | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
        updates: UpdateProgress | None = None,
    ) -> None:
        self.settings = settings or FleetSection()
        self.clock = clock
        self.updates = updates

    def apply(self, conn: Connection, envelopes: Sequence[Envelope]) -> None:
        """A batch's fleet messages, whatever their mix."""
        now = self.clock()
        health = [e.payload for e in envelopes if isinstance(e.payload, HealthMessage)]
        twins = [e.payload for e in envelopes if isinstance(e.payload, TwinReportedMessage)]
        results = [e.payload for e in envelopes if isinstance(e.payload, CommandResultMessage)]
        if health:
            self.health(conn, health, now)
        if twins:
            self.twins(conn, twins, now)
        if results:
            self.results(conn, results, now)

    # -- health ------------------------------------------------------------------------------

    def health(self, conn: Connection, reports: Sequence[HealthMessage], now: dt.datetime) -> None:
        # A report's time is the box's; one from its future counts as now.
        timed = [(r.node, min(r.at, now), r) for r in reports]
        fold_history(conn, timed)
        latest: dict[str, tuple[dt.datetime, HealthMessage]] = {}
        for node, at, report in timed:
            if node not in latest or at >= latest[node][0]:
                latest[node] = (at, report)
        stored = pairs(
            conn.execute(
                select(fleet_health.c.node_id, fleet_health.c.at)
                .where(fleet_health.c.node_id.in_(list(latest)))
            )
        )  # fmt: skip
        # An older report than the one stored (released late from a gap) is history only.
        fresh = {n: v for n, v in latest.items() if n not in stored or v[0] >= stored[n]}
        findings: dict[str, list[Finding]] = {}
        rows: list[dict[str, object]] = []
        for node, (at, report) in fresh.items():
            found = findings[node] = health_findings(report, self.settings, now)
            rows.append({"node_id": node, "at": at, "received_at": now,
                         "colour": colour_of(report, found),
                         "report": report.model_dump_json(exclude_none=True)})  # fmt: skip
        upsert(conn, fleet_health, rows, ("node_id",), ("at", "received_at", "colour", "report"))
        reconcile(conn, now, findings, HEALTH_KINDS)
        if self.updates is not None:
            self.updates.health(conn, [report for _, report in fresh.values()], now)

    # -- twins -------------------------------------------------------------------------------

    def twins(
        self, conn: Connection, reports: Sequence[TwinReportedMessage], now: dt.datetime
    ) -> None:
        latest: dict[str, TwinReportedMessage] = {}
        for report in reports:
            held = latest.get(report.node)
            if held is None or report.reported_at >= held.reported_at:
                latest[report.node] = report
        stored = pairs(
            conn.execute(
                select(fleet_twins.c.node_id, fleet_twins.c.reported_at)
                .where(fleet_twins.c.node_id.in_(list(latest)))
            )
        )  # fmt: skip
        findings: dict[str, list[Finding]] = {}
        for node, report in latest.items():
            if node in stored and stored[node] is not None and stored[node] > report.reported_at:
                continue  # an older report, overtaken
            values = {
                "reported_desired_version": report.desired_version,
                "reported_state": report.state, "applied_version": report.applied_version,
                "reported": report.model_dump_json(exclude_none=True),
                "reported_at": report.reported_at,
            }  # fmt: skip
            if node in stored:
                conn.execute(update(fleet_twins).where(fleet_twins.c.node_id == node), values)
            else:
                conn.execute(insert(fleet_twins).values(
                    node_id=node, desired_version=0, desired="{}", grace_s=300, **values
                ))  # fmt: skip
            findings[node] = _twin_findings(report)
            log_event(log, logging.INFO, "fleet.twin_reported", node=node,
                      version=report.desired_version, state=report.state,
                      applied=report.applied_version)  # fmt: skip
        reconcile(conn, now, findings, ("twin",))

    # -- commands ----------------------------------------------------------------------------

    def results(
        self, conn: Connection, results: Sequence[CommandResultMessage], now: dt.datetime
    ) -> None:
        ids = [r.command_id for r in results]
        sent = {
            row.command_id: row
            for row in conn.execute(
                select(fleet_commands.c.command_id, fleet_commands.c.node_id,
                       fleet_commands.c.action, fleet_commands.c.state)
                .where(fleet_commands.c.command_id.in_(ids))
            )
        }  # fmt: skip
        for result in results:
            row = sent.get(result.command_id)
            if row is None or row.node_id != result.node or row.action != result.action:
                # The inbox quarantines the message with this reason; nothing else changes.
                raise ValueError(
                    f"command_result {result.command_id}: no {result.action} command was sent "
                    f"to {result.node}"
                )
        findings: dict[tuple[str, str], list[Finding]] = {}
        states = {command_id: row.state for command_id, row in sent.items()}
        for result in results:
            if states[result.command_id] in FINISHED:
                continue  # the box answers a command it sees again with its first result
            conn.execute(
                update(fleet_commands)
                .where(fleet_commands.c.command_id == result.command_id)
                .values(state=result.outcome, output=result.output,
                        attachment=result.attachment, finished_at=result.finished_at)
            )  # fmt: skip
            states[result.command_id] = result.outcome
            log_event(log, logging.INFO, "fleet.command_finished", node=result.node,
                      command=result.command_id, action=result.action,
                      outcome=result.outcome)  # fmt: skip
            if result.outcome in ("done", "failed"):
                found = findings.setdefault((result.node, result.action), [])
                found.clear()  # the latest result of an action decides
                if result.outcome == "failed":
                    found.append(Finding("command", result.action,
                                         f"{result.action} failed (command {result.command_id})",
                                         "amber"))  # fmt: skip
        for (node, action), found in findings.items():
            reconcile(conn, now, {node: found}, ("command",), (action,))
        if self.updates is not None:
            self.updates.results(conn, results, now)


def _twin_findings(report: TwinReportedMessage) -> list[Finding]:
    version = report.desired_version
    if report.state == "rolled_back":
        reason = (
            f"twin version {version} rolled back: health failed within its grace period; "
            f"version {report.applied_version} runs"
        )
        return [Finding("twin", "", reason, "red")]
    if report.state == "rejected":
        first = report.errors[0] if report.errors else "no reason given"
        reason = f"twin version {version} rejected ({len(report.errors)} errors): {first}"
        return [Finding("twin", "", reason[:300])]
    return []


def pairs(rows: Iterable[Any]) -> dict[Any, Any]:
    """Two columns' rows as a dict (a Result has keys(): dict() would take it for a mapping)."""
    return {first: second for first, second in rows}
