"""The trace of one record, from the CIS through the boxes to the partner and back: its
versions as the CIS sent them (the record's history), which box holds which version and
whether the message that took it there was delivered, what the boxes reported about it (the
events of the CIS's feed that name it), and the partner's copies held for review."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass, field

from sqlalchemy import Connection, Engine, select

from centre.store.schema import (
    events,
    partner_review,
    record_history,
    record_routes,
    records,
)
from edge.store.schema import outbox

MAX_EVENTS = 200
MAX_RECORDS = 20  # one ref under several issuers


@dataclass(frozen=True)
class Step:
    version: int
    action: str
    detail: str
    at: dt.datetime


@dataclass(frozen=True)
class BoxCopy:
    node: str
    version: int
    state: str  # held, withdrawn
    message_id: str
    delivery: str  # the outbox state of that message: pending ... delivered, or "purged"
    at: dt.datetime


@dataclass(frozen=True)
class BoxEvent:
    type: str
    origin: str
    created_at: dt.datetime
    message_id: str
    summary: str  # what the box said, in a few words (a decision's kind, an arrival's lane)


@dataclass(frozen=True)
class PartnerCopy:
    id: int
    partner: str
    version: int
    state: str
    received_at: dt.datetime


@dataclass
class RecordTrace:
    issuer: str
    ref: str
    version: int
    state: str
    source: str
    received_at: dt.datetime
    updated_at: dt.datetime
    steps: list[Step] = field(default_factory=list)
    boxes: list[BoxCopy] = field(default_factory=list)
    events: list[BoxEvent] = field(default_factory=list)
    partners: list[PartnerCopy] = field(default_factory=list)


def trace(engine: Engine, ref: str) -> list[RecordTrace]:
    """Every record with this ref (one per issuer), fully traced; none when unknown."""
    ref = ref.strip()
    if not ref:
        return []
    with engine.connect() as conn:
        rows = conn.execute(
            select(records)
            .where(records.c.ref == ref)
            .order_by(records.c.issuer)
            .limit(MAX_RECORDS)
        ).all()
        found = [
            RecordTrace(
                r.issuer, r.ref, int(r.version), r.state, r.source, r.received_at, r.updated_at
            )
            for r in rows
        ]
        box_events = _events_naming(conn, ref)
        for one in found:
            one.steps = _steps(conn, one.issuer, ref)
            one.boxes = _box_copies(conn, one.issuer, ref)
            one.events = [e for issuer, e in box_events if issuer in (None, one.issuer)]
            one.partners = _partner_copies(conn, one.issuer, ref)
    return found


def _steps(conn: Connection, issuer: str, ref: str) -> list[Step]:
    rows = conn.execute(
        select(record_history)
        .where(record_history.c.issuer == issuer, record_history.c.ref == ref)
        .order_by(record_history.c.id)
    )
    return [Step(int(r.version), r.action, r.detail, r.at) for r in rows]


def _box_copies(conn: Connection, issuer: str, ref: str) -> list[BoxCopy]:
    routes = conn.execute(
        select(record_routes)
        .where(record_routes.c.issuer == issuer, record_routes.c.ref == ref)
        .order_by(record_routes.c.node)
    ).all()
    ids = [r.message_id for r in routes if r.message_id]
    rows = conn.execute(select(outbox.c.id, outbox.c.state).where(outbox.c.id.in_(ids)))
    states = {row.id: row.state for row in rows}
    return [
        BoxCopy(
            r.node, int(r.version), r.state, r.message_id, states.get(r.message_id, "purged"), r.at
        )
        for r in routes
    ]


def _like_escaped(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _events_naming(conn: Connection, ref: str) -> list[tuple[str | None, BoxEvent]]:
    """The feed's events whose payload names `ref` (an arrival's best_ref, a decision's or an
    exit confirmation's manifest.ref), with the issuer they name (None: not said)."""
    quoted = json.dumps(ref)  # as the payload's JSON writes it
    rows = conn.execute(
        select(events)
        .where(events.c.payload.like(f"%{_like_escaped(quoted)}%", escape="\\"))
        .order_by(events.c.id)
        .limit(MAX_EVENTS * 5)
    )
    out: list[tuple[str | None, BoxEvent]] = []
    for row in rows:
        named = _named_by(row.payload, ref)
        if named is None:
            continue  # the ref appears, but in another field (a plate, a note)
        summary = _summary(row.type, row.payload)
        event = BoxEvent(row.type, row.origin, row.created_at, row.message_id, summary)
        out.append((named or None, event))
        if len(out) >= MAX_EVENTS:
            break
    return out


def _named_by(payload_text: str, ref: str) -> str | None:
    """The issuer the payload names for `ref` ("" when it names none), None if not `ref`."""
    try:
        payload = json.loads(payload_text)
    except ValueError:
        return None
    if not isinstance(payload, dict):
        return None
    manifest = payload.get("manifest")
    if isinstance(manifest, dict) and manifest.get("ref") == ref:
        issuer = manifest.get("issuer")
        return issuer if isinstance(issuer, str) else ""
    if payload.get("best_ref") == ref:
        return ""
    return None


def _summary(kind: str, payload_text: str) -> str:
    payload = json.loads(payload_text)
    if kind == "decision":
        return f"{payload.get('decision', '?')} ({payload.get('reason', '?')})"
    if kind == "arrival":
        return f"lane {payload.get('lane', '?')}"
    return str(payload.get("decision") or payload.get("kind") or "")


def _partner_copies(conn: Connection, issuer: str, ref: str) -> list[PartnerCopy]:
    rows = conn.execute(
        select(partner_review)
        .where(partner_review.c.issuer == issuer, partner_review.c.ref == ref)
        .order_by(partner_review.c.id)
    )
    return [PartnerCopy(int(r.id), r.partner, int(r.version), r.state, r.received_at) for r in rows]
