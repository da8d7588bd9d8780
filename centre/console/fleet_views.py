"""What the fleet pages show, read through the fleet desk (`centre.fleet.desk.FleetDesk`): the
boxes by country and crossing (a node id is `<country>-<post>-<n>`) with their health colour,
last report, twin versions and open alerts; the enrolments waiting for a fleet operator (from
`centre.fleet.enrolment.Enrolments`); and one box whole (twin, latest health, history charts,
alerts, commands, and its lines of the audit).

The desk does every action on a box and the enrolments approve, refuse and revoke; each audits
what it did in its own transaction. A console started without them has no fleet pages (the
desk) or shows no enrolment to decide (the enrolments)."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from centre.audit import AuditEntry, audit_entries
from centre.console.fleet_charts import Chart, line_chart
from centre.console.i18n import N_
from centre.fleet.desk import ACTIONS, BoxDetail, BoxSummary, FleetDesk
from centre.fleet.enrolment import Enrolments
from edge.timeutil import utcnow
from sync.messages import TWIN_SECTIONS

# An update goes to boxes through a rollout (centre.updates), with its target and phases.
COMMAND_ACTIONS: tuple[str, ...] = tuple(a for a in ACTIONS if a != "update")
# The charts of a box's page: the history's metric and its title (translated when shown).
CHART_METRICS: tuple[tuple[str, str], ...] = (
    ("disk_used_pct", N_("Disk used (%)")),
    ("database_mb", N_("Database (MB)")),
    ("clock_offset_ms", N_("Clock offset (ms)")),
    ("backlog", N_("Messages waiting to be sent")),
    ("oldest_unsent_evidence_s", N_("Oldest unsent evidence (s)")),
    ("devices_disconnected", N_("Devices disconnected")),
)
HISTORY_DAYS = 1  # within the desk's 5-minute buckets ([fleet] history_300s_days)
MAX_TTL_MINUTES = 7 * 24 * 60
# Shown in their own table, not among the boxes: asking to join, or refused.
NOT_IN_FLEET = ("pending", "refused")


@dataclass(frozen=True)
class Post:
    name: str
    boxes: list[BoxSummary]


@dataclass(frozen=True)
class Country:
    code: str
    posts: list[Post]


@dataclass(frozen=True)
class PendingEnrolment:
    node_id: str
    serial: str
    enrolment_code: str
    requested_at: dt.datetime | None


@dataclass
class BoxPage:
    detail: BoxDetail
    audit: list[AuditEntry]
    charts: list[Chart] = field(default_factory=list)

    @property
    def row(self) -> BoxSummary:
        return self.detail.summary

    @property
    def desired(self) -> dict[str, Any]:
        return self.detail.twin.desired if self.detail.twin is not None else {}

    def desired_json(self, section: str) -> str:
        """A section's desired content as the operator edits it ("" when not desired)."""
        if section not in self.desired:
            return ""
        return json.dumps(self.desired[section], indent=2, ensure_ascii=False, sort_keys=True)


def audit_item(node_id: str) -> str:
    """The audit's item for an action on a box (as the desk and the enrolments write it)."""
    return f"box:{node_id}"


class FleetPages:
    """The fleet as the console reads it, and what acts on it."""

    def __init__(
        self,
        engine: Engine,
        desk: FleetDesk,
        enrolments: Enrolments | None = None,
        *,
        clock: Any = utcnow,
    ) -> None:
        self.engine = engine
        self.desk = desk
        self.enrolments = enrolments
        self.clock = clock

    def countries(self) -> list[Country]:
        """The boxes (neither pending nor refused) by country, then by crossing."""
        grouped: dict[str, dict[str, list[BoxSummary]]] = {}
        for box in self.desk.boxes():
            if box.state in NOT_IN_FLEET:
                continue
            grouped.setdefault(box.country, {}).setdefault(box.crossing, []).append(box)
        return [
            Country(code, [Post(name, boxes) for name, boxes in sorted(posts.items())])
            for code, posts in sorted(grouped.items())
        ]

    def pending(self) -> list[PendingEnrolment]:
        if self.enrolments is not None:
            return [
                PendingEnrolment(p.node_id, p.serial, p.code or "—", p.requested_at)
                for p in self.enrolments.pending()
            ]
        return [
            PendingEnrolment(b.node_id, "—", "—", None)
            for b in self.desk.boxes()
            if b.state == "pending"
        ]

    def known(self, node_ids: Sequence[str]) -> list[str]:
        """Those of `node_ids` the fleet knows (any state), in order."""
        known = {box.node_id for box in self.desk.boxes()}
        return [node for node in node_ids if node in known]

    def box(self, node_id: str) -> BoxPage | None:
        detail = self.desk.box(node_id)
        if detail is None:
            return None
        page = BoxPage(detail, audit_entries(self.engine, audit_item(node_id)))
        page.charts = self.charts(node_id)
        return page

    def charts(self, node_id: str) -> list[Chart]:
        since = self.clock() - dt.timedelta(days=HISTORY_DAYS)
        return [
            line_chart(metric, label, self.desk.history(node_id, metric, since))
            for metric, label in CHART_METRICS
        ]

    def attachment(self, command_id: str) -> bytes | None:
        """A diagnostics command's bundle (a gzip tar) as the box sent it."""
        data = self.desk.attachment(command_id)
        if not data:
            return None
        try:
            return base64.b64decode(data, validate=True)
        except (binascii.Error, ValueError):
            return None


def parse_sections(texts: dict[str, str]) -> tuple[dict[str, Any], list[str]]:
    """The sections an operator typed (JSON per section; blank: not set), and why any cannot
    be read (`section: reason`)."""
    sections: dict[str, Any] = {}
    problems: list[str] = []
    for name, text in texts.items():
        if name not in TWIN_SECTIONS:
            problems.append(f"{name}: not a section of the twin")
            continue
        if not text.strip():
            continue
        try:
            sections[name] = json.loads(text)
        except ValueError as error:
            problems.append(f"{name}: not JSON ({error})")
    return sections, problems
