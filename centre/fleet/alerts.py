"""The fleet's alerts: rules over what a box reports, each with its reason, raised when a rule
first holds and cleared when it no longer does (`fleet_alerts`); a log line for each, and,
when configured, each sent on to the operators' webhooks (`AlertNotifier`).

Health rules are evaluated on each report (`health_findings`); the silence rule on a schedule
(`check_silence`); a twin rolled back or rejected and a failed command when their report comes
(`centre.fleet.reports`). A reason names numbers, versions and device ids only: never personal
data (it goes to the logs and to the webhooks)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

import httpx
import orjson
from sqlalchemy import ColumnElement, Connection, Engine, and_, func, insert, or_, select, update

from centre.config import AlertWebhookSection, FleetSection
from centre.store.schema import fleet_alerts, fleet_boxes, fleet_health
from centre.webhooks import read_secret, sign
from edge.logs import log_event
from edge.timeutil import format_utc, system_utcnow
from sync.messages import HealthMessage, new_message_id

log = logging.getLogger(__name__)

Severity = Literal["red", "amber"]
# The kinds a health report decides: each is raised or cleared by every report.
HEALTH_KINDS = frozenset({"disk", "device", "clock", "certificate", "evidence", "silent"})
# Alerts sent on per round, per webhook request.
NOTIFY_BATCH = 200


@dataclass(frozen=True)
class Finding:
    """A rule that holds for a box (or one of its devices: `subject`)."""

    kind: str
    subject: str
    reason: str
    severity: Severity = "amber"


def health_findings(
    report: HealthMessage, settings: FleetSection, now: dt.datetime
) -> list[Finding]:
    """The rules that hold for this report."""
    found: list[Finding] = []
    if report.disk_used_pct > settings.disk_used_pct:
        found.append(Finding("disk", "", f"disk {report.disk_used_pct:.1f}% used, over "
                             f"{settings.disk_used_pct:g}%", "red"))  # fmt: skip
    for device in report.devices:
        if device.health == "disconnected":
            why = f" ({device.why})" if device.why else ""
            reason = f"{device.kind} {device.id} on lane {device.lane} disconnected{why}"
            found.append(Finding("device", device.id, reason[:300]))
    clock = report.clock
    offset = clock.offset_ms
    if offset is not None and abs(offset) > settings.clock_offset_ms:
        found.append(Finding("clock", "", f"clock off by {offset / 1000:+.1f} s ({clock.source}),"
                             f" beyond {settings.clock_offset_ms / 1000:g} s", "red"))  # fmt: skip
    elif not clock.synchronised:
        found.append(Finding("clock", "", f"clock not synchronised ({clock.source})"))
    expiry = report.certificate_not_after
    if expiry is not None:
        left = expiry - system_utcnow()  # X.509 validity: the system clock (edge.timeutil)
        if left <= dt.timedelta(0):
            found.append(Finding("certificate", "", f"certificate expired {format_utc(expiry)}",
                                 "red"))  # fmt: skip
        elif left <= dt.timedelta(days=settings.certificate_days):
            found.append(Finding("certificate", "", f"certificate expires {format_utc(expiry)}, "
                                 f"in {left.days} days"))  # fmt: skip
    unsent = report.oldest_unsent_evidence_s
    if unsent is not None and unsent > settings.unsent_evidence_s:
        found.append(Finding("evidence", "", f"evidence unsent for {unsent // 60} minutes, over "
                             f"{settings.unsent_evidence_s // 60}", "red"))  # fmt: skip
    return found


def colour_of(report: HealthMessage, findings: Sequence[Finding]) -> str:
    """green, amber or red (grey, a silent box, is the reader's: `centre.fleet.desk`)."""
    if report.service == "failing" or any(f.severity == "red" for f in findings):
        return "red"
    degraded = report.service == "degraded" or report.plate_worker == "down"
    if degraded or findings or any(d.health != "connected" for d in report.devices):
        return "amber"
    return "green"


@dataclass(frozen=True)
class Change:
    node: str
    kind: str
    subject: str
    reason: str
    raised: bool  # False: cleared


def reconcile(
    conn: Connection,
    now: dt.datetime,
    findings: Mapping[str, Sequence[Finding]],
    kinds: Collection[str],
    subjects: Collection[str] | None = None,
) -> list[Change]:
    """For each node of `findings`: raise what holds and is not open yet, clear what is open
    (of `kinds`, and of `subjects` when given) and no longer holds; what changed, logged."""
    if not findings:
        return []
    scope: ColumnElement[bool] = fleet_alerts.c.kind.in_(list(kinds))
    if subjects is not None:
        scope = scope & fleet_alerts.c.subject.in_(list(subjects))
    open_rows = conn.execute(
        select(fleet_alerts.c.id, fleet_alerts.c.node_id, fleet_alerts.c.kind,
               fleet_alerts.c.subject, fleet_alerts.c.reason)
        .where(fleet_alerts.c.cleared_at.is_(None), scope,
               fleet_alerts.c.node_id.in_(list(findings)))
    ).all()  # fmt: skip
    open_now = {(r.node_id, r.kind, r.subject): r for r in open_rows}
    holding = {(node, f.kind, f.subject): f for node, found in findings.items() for f in found}
    changes: list[Change] = []
    new_rows = []
    for (node, kind, subject), finding in holding.items():
        if (node, kind, subject) not in open_now:
            new_rows.append({"node_id": node, "kind": kind, "subject": subject,
                             "reason": finding.reason, "raised_at": now})  # fmt: skip
            changes.append(Change(node, kind, subject, finding.reason, True))
    cleared = [row for key, row in open_now.items() if key not in holding]
    if new_rows:
        conn.execute(insert(fleet_alerts), new_rows)
    if cleared:
        # notified_at back to none: the clearing is news for the webhooks too.
        conn.execute(
            update(fleet_alerts)
            .where(fleet_alerts.c.id.in_([r.id for r in cleared]))
            .values(cleared_at=now, notified_at=None)
        )
        changes += [Change(r.node_id, r.kind, r.subject, r.reason, False) for r in cleared]
    for change in changes:
        log_event(
            log, logging.WARNING if change.raised else logging.INFO,
            "fleet.alert_raised" if change.raised else "fleet.alert_cleared",
            node=change.node, kind=change.kind, subject=change.subject, reason=change.reason,
        )  # fmt: skip
    return changes


def check_silence(engine: Engine, settings: FleetSection, now: dt.datetime) -> list[Change]:
    """Raise `silent` for every box with no report for `silent_minutes` (an enrolled box that
    never reported counts from its enrolment), clear it for the others."""
    before = now - dt.timedelta(minutes=settings.silent_minutes)
    with engine.begin() as conn:
        last_seen: dict[str, dt.datetime | None] = {
            row.node_id: row.decided_at
            for row in conn.execute(
                select(fleet_boxes.c.node_id, fleet_boxes.c.decided_at)
                .where(fleet_boxes.c.state == "enrolled")
            )
        }  # fmt: skip
        for row in conn.execute(select(fleet_health.c.node_id, fleet_health.c.received_at)):
            last_seen[row.node_id] = row.received_at
        findings: dict[str, list[Finding]] = {}
        for node, seen in last_seen.items():
            findings[node] = []
            if seen is not None and seen < before:
                minutes = int((now - seen).total_seconds() // 60)
                findings[node].append(Finding("silent", "", f"no report for {minutes} minutes",
                                              "red"))  # fmt: skip
        return reconcile(conn, now, findings, ("silent",))


def open_alert_counts(conn: Connection) -> dict[str, int]:
    rows = conn.execute(
        select(fleet_alerts.c.node_id, func.count())
        .where(fleet_alerts.c.cleared_at.is_(None))
        .group_by(fleet_alerts.c.node_id)
    )
    return {node: int(count) for node, count in rows}


# -- sent on --------------------------------------------------------------------------------


def load_alert_secret(target: AlertWebhookSection) -> bytes:
    """The target's HMAC key (WebhookSecretError naming its key and the fix)."""
    return read_secret(target.secret_file, f"fleet.alert_webhooks.{target.name}.secret_file")


class AlertNotifier:
    """Sends each raised or cleared alert not yet sent (`notified_at` none) to every target,
    as `{"alerts": [{id, node, kind, subject, reason, raised_at, cleared_at}]}`, signed as
    centre.webhooks signs (`X-Carec-Signature`, `X-Carec-Timestamp`, `X-Carec-Delivery`).
    An alert is marked sent once every target answered 2xx; until then each round sends it
    again (at least once: a receiver dedupes by id and cleared_at)."""

    def __init__(self, engine: Engine, targets: Sequence[AlertWebhookSection]) -> None:
        self.engine = engine
        self.targets = [(target, load_alert_secret(target)) for target in targets]
        self.clients = {
            target.name: httpx.Client(timeout=httpx.Timeout(target.timeout_s),
                                      follow_redirects=False, trust_env=False)
            for target in targets
        }  # fmt: skip

    def close(self) -> None:
        for client in self.clients.values():
            client.close()

    def send_pending(self, now: dt.datetime) -> int:
        """One round; how many alerts were marked sent."""
        if not self.targets:
            return 0
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(fleet_alerts).where(fleet_alerts.c.notified_at.is_(None))
                .order_by(fleet_alerts.c.id).limit(NOTIFY_BATCH)
            ).all()  # fmt: skip
        if not rows:
            return 0
        body = orjson.dumps({"alerts": [
            {"id": r.id, "node": r.node_id, "kind": r.kind, "subject": r.subject,
             "reason": r.reason, "raised_at": format_utc(r.raised_at),
             "cleared_at": format_utc(r.cleared_at) if r.cleared_at else None}
            for r in rows
        ]})  # fmt: skip
        for target, secret in self.targets:
            if not self._post(target, secret, body, now):
                return 0
        was_open = [r.id for r in rows if r.cleared_at is None]
        was_cleared = [r.id for r in rows if r.cleared_at is not None]
        with self.engine.begin() as conn:
            # An alert cleared since it was read waits for its own round.
            conn.execute(
                update(fleet_alerts).values(notified_at=now).where(
                    or_(and_(fleet_alerts.c.id.in_(was_open), fleet_alerts.c.cleared_at.is_(None)),
                        fleet_alerts.c.id.in_(was_cleared))
                )
            )  # fmt: skip
        return len(rows)

    def _post(
        self, target: AlertWebhookSection, secret: bytes, body: bytes, now: dt.datetime
    ) -> bool:
        headers = {
            "content-type": "application/json", "x-carec-signature": sign(secret, body),
            "x-carec-timestamp": format_utc(now), "x-carec-delivery": new_message_id(),
        }  # fmt: skip
        try:
            response = self.clients[target.name].post(target.url, content=body, headers=headers)
        except httpx.HTTPError as error:
            log_event(log, logging.WARNING, "fleet.alert_webhook_failed", target=target.name,
                      error=type(error).__name__)  # fmt: skip
            return False
        if not 200 <= response.status_code < 300:
            log_event(log, logging.WARNING, "fleet.alert_webhook_failed", target=target.name,
                      error=f"HTTP {response.status_code}")  # fmt: skip
            return False
        return True
