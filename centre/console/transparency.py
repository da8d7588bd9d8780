"""The transparency log as the console shows it: the centre's own log (its size, what waits to
be integrated, its latest checkpoints and who cosigned them), the other nodes' logs this centre
witnessed (the latest size seen of each, and whose copies were compared), and the alerts:
forks, inconsistent or truncated logs, failed proofs, each with its evidence.

Read only, and bounded: every query has a LIMIT or walks an index a node at a time. The alerts'
detail and evidence come from other nodes: they are shown as text (the templates escape them),
never trusted as markup, and the evidence's signed notes verbatim, so an operator can copy them
as proof."""

from __future__ import annotations

import base64
import datetime as dt
import json
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, RowMapping, func, select

from centre.console.i18n import N_
from edge.store.schema import (
    tlog_alerts,
    tlog_checkpoints,
    tlog_cosignatures,
    tlog_entries,
    tlog_witnessed,
)
from sync.tlog.checkpoint import parse_checkpoint
from sync.tlog.note import parse_note
from sync.tlog.store import tree_size

RECENT_CHECKPOINTS = 10
WITNESSED_PER_PAGE = 100
ALERTS_PER_PAGE = 50
MAX_EVIDENCE_CHARS = 256 * 1024  # shown; the download gives it whole
_NOTE_SEPARATOR = "\n\n\u2014 "  # a signed note: its text, a blank line, "— name signature"

# What each kind of alert means, as the operator reads it (translated when shown).
ALERT_KINDS: dict[str, str] = {
    "fork": N_("fork: two checkpoints of one size with different roots"),
    "inconsistent": N_("inconsistent: a checkpoint does not extend an earlier one"),
    "truncated": N_("truncated: the log is smaller than it was"),
    "bad_proof": N_("bad proof: an entry fails its proof"),
}


def b64(data: bytes) -> str:
    """A hash as a checkpoint writes it (standard base64), to compare with the notes."""
    return base64.b64encode(data).decode()


@dataclass(frozen=True)
class CheckpointView:
    size: int
    root_hash: bytes
    created_at: dt.datetime
    cosigners: tuple[str, ...]

    @property
    def root(self) -> str:
        return b64(self.root_hash)


@dataclass(frozen=True)
class OwnLog:
    size: int  # entries integrated into the tree
    queued: int  # appended, not integrated yet
    recent: tuple[CheckpointView, ...]  # newest first
    latest_cosigned: CheckpointView | None  # the newest checkpoint a witness cosigned

    @property
    def latest(self) -> CheckpointView | None:
        return self.recent[0] if self.recent else None


@dataclass(frozen=True)
class WitnessedLog:
    log_node: str
    size: int  # the largest size seen of it
    roots: tuple[str, ...]  # the roots seen at that size: more than one is a fork
    sources: tuple[str, ...]  # who showed that size: the node itself, or a witness
    seen_at: dt.datetime  # when it was last seen at that size


@dataclass(frozen=True)
class WitnessedPage:
    logs: tuple[WitnessedLog, ...]
    next_after: str | None  # the log node to continue after, if there are more


@dataclass(frozen=True)
class Alert:
    id: int
    detected_at: dt.datetime
    log_node: str
    kind: str
    detail: str
    reported_by: str
    message_id: str | None


@dataclass(frozen=True)
class AlertPage:
    alerts: tuple[Alert, ...]
    total: int
    page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // ALERTS_PER_PAGE))


@dataclass(frozen=True)
class EvidenceNote:
    """One signed note found in an alert's evidence, verbatim, and what it says if it reads as
    a checkpoint (None if not: shown anyway, it is what the node was sent)."""

    where: str  # its place in the evidence JSON, e.g. `checkpoints[1]`
    text: str
    origin: str | None = None
    size: int | None = None
    root: str | None = None
    verified: bool | None = None  # by the centre that received the alert; None: not checked


@dataclass(frozen=True)
class AlertDetail:
    alert: Alert
    evidence: str  # as stored, cut at MAX_EVIDENCE_CHARS
    evidence_cut: bool
    pretty: str | None  # the evidence JSON indented; None when it is not JSON
    notes: tuple[EvidenceNote, ...]


# -- the centre's own log ----------------------------------------------------------------------


def own_log(engine: Engine) -> OwnLog:
    with engine.connect() as conn:
        size = tree_size(conn)
        queued = conn.execute(
            select(func.count()).where(tlog_entries.c.leaf_index.is_(None))
        ).scalar_one()
        rows = conn.execute(
            select(tlog_checkpoints.c.size, tlog_checkpoints.c.root_hash,
                   tlog_checkpoints.c.created_at)
            .order_by(tlog_checkpoints.c.size.desc())
            .limit(RECENT_CHECKPOINTS)
        ).all()  # fmt: skip
        recent = tuple(
            CheckpointView(int(r.size), bytes(r.root_hash), r.created_at, _cosigners(conn, r.size))
            for r in rows
        )
        cosigned = next((c for c in recent if c.cosigners), None)
        if cosigned is None:
            cosigned = _latest_cosigned(conn)
    return OwnLog(size, int(queued), recent, cosigned)


def _cosigners(conn: Connection, size: int) -> tuple[str, ...]:
    return tuple(
        conn.execute(
            select(tlog_cosignatures.c.witness)
            .where(tlog_cosignatures.c.size == size)
            .order_by(tlog_cosignatures.c.witness)
            .limit(100)
        ).scalars()
    )


def _latest_cosigned(conn: Connection) -> CheckpointView | None:
    size = conn.execute(select(func.max(tlog_cosignatures.c.size))).scalar()
    if size is None:
        return None
    row = conn.execute(
        select(tlog_checkpoints.c.root_hash, tlog_checkpoints.c.created_at).where(
            tlog_checkpoints.c.size == size
        )
    ).first()
    if row is None:  # its checkpoint purged: nothing to show it against
        return None
    return CheckpointView(int(size), bytes(row.root_hash), row.created_at, _cosigners(conn, size))


# -- the logs this centre witnessed ------------------------------------------------------------


def witnessed_logs(engine: Engine, after: str = "") -> WitnessedPage:
    """Up to WITNESSED_PER_PAGE logs by node id, after `after`: a walk of the primary key's
    first column (one indexed lookup a node), so the page costs the same however many
    checkpoints each log has."""
    logs: list[WitnessedLog] = []
    with engine.connect() as conn:
        for node in _log_nodes(conn, after):
            if len(logs) == WITNESSED_PER_PAGE:
                return WitnessedPage(tuple(logs), logs[-1].log_node)
            logs.append(_witnessed(conn, node))
    return WitnessedPage(tuple(logs), None)


def _log_nodes(conn: Connection, after: str) -> Iterator[str]:
    node: str | None = after
    while True:
        node = conn.execute(
            select(func.min(tlog_witnessed.c.log_node)).where(tlog_witnessed.c.log_node > node)
        ).scalar()
        if node is None:
            return
        yield node


def _witnessed(conn: Connection, node: str) -> WitnessedLog:
    size = conn.execute(
        select(func.max(tlog_witnessed.c.size)).where(tlog_witnessed.c.log_node == node)
    ).scalar_one()
    rows = conn.execute(
        select(tlog_witnessed.c.root_hash, tlog_witnessed.c.source, tlog_witnessed.c.seen_at)
        .where(tlog_witnessed.c.log_node == node, tlog_witnessed.c.size == size)
        .order_by(tlog_witnessed.c.source)
        .limit(100)
    ).all()
    return WitnessedLog(
        node,
        int(size),
        tuple(sorted({b64(bytes(r.root_hash)) for r in rows})),
        tuple(r.source for r in rows),
        max(r.seen_at for r in rows),
    )


# -- alerts ------------------------------------------------------------------------------------

_ALERT_COLUMNS = (
    tlog_alerts.c.id, tlog_alerts.c.detected_at, tlog_alerts.c.log_node, tlog_alerts.c.kind,
    tlog_alerts.c.detail, tlog_alerts.c.reported_by, tlog_alerts.c.message_id,
)  # fmt: skip


def alert_count(engine: Engine) -> int:
    """Every alert is open: the log keeps no state of an alert being dealt with."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(tlog_alerts)).scalar_one())


def alerts(engine: Engine, page: int = 1) -> AlertPage:
    """The alerts newest first, a page of ALERTS_PER_PAGE."""
    with engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(tlog_alerts)).scalar_one()
        rows = (
            conn.execute(
                select(*_ALERT_COLUMNS)
                .order_by(tlog_alerts.c.detected_at.desc(), tlog_alerts.c.id.desc())
                .limit(ALERTS_PER_PAGE)
                .offset((page - 1) * ALERTS_PER_PAGE)
            )
            .mappings()
            .all()
        )
    return AlertPage(tuple(_alert(r) for r in rows), int(total), page)


def alert_detail(engine: Engine, alert_id: int) -> AlertDetail | None:
    with engine.connect() as conn:
        row = (
            conn.execute(
                select(*_ALERT_COLUMNS, tlog_alerts.c.evidence).where(tlog_alerts.c.id == alert_id)
            )
            .mappings()
            .first()
        )
    if row is None:
        return None
    raw: str = row["evidence"]
    pretty: str | None = None
    notes: tuple[EvidenceNote, ...] = ()
    try:
        parsed = json.loads(raw)
    except ValueError:
        pass  # not JSON: shown as stored
    else:
        pretty = json.dumps(parsed, indent=2, ensure_ascii=False)
        verified = _verified(parsed)
        notes = tuple(
            _read_note(where, text, verified.get(where)) for where, text in signed_notes(parsed)
        )
    cut = len(raw) > MAX_EVIDENCE_CHARS
    if pretty is not None and len(pretty) > MAX_EVIDENCE_CHARS:
        pretty = pretty[:MAX_EVIDENCE_CHARS]
    return AlertDetail(_alert(row), raw[:MAX_EVIDENCE_CHARS], cut, pretty, notes)


def evidence_of(engine: Engine, alert_id: int) -> str | None:
    """The alert's evidence exactly as stored, for download."""
    with engine.connect() as conn:
        found: str | None = conn.execute(
            select(tlog_alerts.c.evidence).where(tlog_alerts.c.id == alert_id)
        ).scalar()
    return found


def signed_notes(value: object, where: str = "") -> Iterator[tuple[str, str]]:
    """Every string in the evidence JSON that is a signed note, with its place, in order."""
    if isinstance(value, str):
        if _NOTE_SEPARATOR in value:
            yield where or "evidence", value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from signed_notes(item, f"{where}.{key}" if where else str(key))
    elif isinstance(value, list):
        for i, item in enumerate(value):
            yield from signed_notes(item, f"{where}[{i}]")


def _verified(evidence: object) -> dict[str, bool]:
    """What the evidence says of its checkpoints' signatures: `verified[i]`, true or false, of
    `checkpoints[i]` (`sync.tlog.detection` writes it when the log's key is known here)."""
    if not isinstance(evidence, dict) or not isinstance(evidence.get("verified"), list):
        return {}
    return {
        f"checkpoints[{i}]": value
        for i, value in enumerate(evidence["verified"])
        if isinstance(value, bool)
    }


def _read_note(where: str, text: str, verified: bool | None) -> EvidenceNote:
    try:
        checkpoint = parse_checkpoint(parse_note(text.encode()).text)
    except ValueError:  # NoteError, CheckpointError, UnicodeError: not a checkpoint
        return EvidenceNote(where, text, verified=verified)
    return EvidenceNote(
        where, text, checkpoint.origin, checkpoint.size, b64(checkpoint.root_hash), verified
    )


def _alert(row: RowMapping) -> Alert:
    return Alert(
        int(row["id"]), row["detected_at"], row["log_node"], row["kind"], row["detail"],
        row["reported_by"], row["message_id"],
    )  # fmt: skip
