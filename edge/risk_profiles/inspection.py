"""What a documentary check or an inspection found, as the officer records it after the
decision: nothing, or findings by code with a note. Kept as evidence with the selection that
sent the truck there (its profiles and set version, or the random draw), so the centre can
count each profile's hit rate. The note is free text: stored and sent, never logged."""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from enum import StrEnum

from sqlalchemy import Connection, insert, select

from edge.store.schema import inspection_results, risk_arrivals

MAX_NOTE_CHARS = 2000


class Finding(StrEnum):
    UNDECLARED_GOODS = "UNDECLARED_GOODS"
    QUANTITY = "QUANTITY"  # more or less than declared
    SEAL = "SEAL"  # a seal broken, replaced or tampered with
    DOCUMENT = "DOCUMENT"  # a document false, altered or not the truck's
    OTHER = "OTHER"


class InspectionOutcome(StrEnum):
    NOTHING_FOUND = "nothing_found"
    FOUND = "found"


class InspectionInvalidError(ValueError):
    pass


@dataclass(frozen=True)
class SelectionRecord:
    """The selection of an arrival as last shown: lane, profiles (name, version), random."""

    lane: str
    set_version: int | None
    profiles: tuple[tuple[str, int], ...]
    random: str | None


@dataclass(frozen=True)
class InspectionResult:
    id: int
    arrival_id: int
    decision_id: int | None
    officer_id: str
    outcome: InspectionOutcome
    findings: tuple[Finding, ...]
    note: str | None
    selection: SelectionRecord
    recorded_at: dt.datetime


def selection_of(conn: Connection, arrival_id: int) -> SelectionRecord:
    row = conn.execute(
        select(risk_arrivals).where(risk_arrivals.c.arrival_id == arrival_id)
    ).first()
    if row is None:
        return SelectionRecord("green", None, (), None)
    profiles = tuple((str(p["name"]), int(p["version"])) for p in json.loads(row.profiles))
    return SelectionRecord(row.lane, row.set_version, profiles, row.random)


def record_result(
    conn: Connection,
    *,
    arrival_id: int,
    decision_id: int | None,
    officer_id: str,
    findings: tuple[Finding, ...],
    note: str | None,
    now: dt.datetime,
) -> InspectionResult:
    """Store the result in the caller's transaction; no findings is "nothing found"."""
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise InspectionInvalidError(f"note: at most {MAX_NOTE_CHARS} characters")
    unique = tuple(dict.fromkeys(findings))
    outcome = InspectionOutcome.FOUND if unique else InspectionOutcome.NOTHING_FOUND
    selection = selection_of(conn, arrival_id)
    inserted = conn.execute(
        insert(inspection_results).values(
            arrival_id=arrival_id, decision_id=decision_id, officer_id=officer_id,
            outcome=outcome.value, findings=json.dumps([f.value for f in unique]),
            note=note or None, lane=selection.lane, set_version=selection.set_version,
            profiles=json.dumps([{"name": n, "version": v} for n, v in selection.profiles]),
            random=selection.random, recorded_at=now,
        )
    ).inserted_primary_key  # fmt: skip
    assert inserted is not None
    new_id = inserted[0]
    return InspectionResult(
        int(new_id), arrival_id, decision_id, officer_id, outcome, unique, note or None,
        selection, now,
    )  # fmt: skip


def results_for(conn: Connection, arrival_id: int) -> list[InspectionResult]:
    rows = conn.execute(
        select(inspection_results)
        .where(inspection_results.c.arrival_id == arrival_id)
        .order_by(inspection_results.c.id)
    ).all()
    out = []
    for row in rows:
        profiles = tuple((str(p["name"]), int(p["version"])) for p in json.loads(row.profiles))
        out.append(
            InspectionResult(
                row.id, row.arrival_id, row.decision_id, row.officer_id,
                InspectionOutcome(row.outcome),
                tuple(Finding(f) for f in json.loads(row.findings)), row.note,
                SelectionRecord(row.lane, row.set_version, profiles, row.random),
                row.recorded_at,
            )
        )  # fmt: skip
    return out
