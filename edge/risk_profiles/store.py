"""Risk profiles in the box's store: rule set versions as the centre sends them (a newer one
replaces the active set, an older one never does), the active set's index kept in memory,
each arrival's draw and selection, the truck's history at the post, and inspection results."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, delete, func, insert, select, update

from edge.risk import RiskAssessment, RiskLane
from edge.risk_profiles.facts import TruckFacts, TruckHistory
from edge.risk_profiles.index import ProfileHit, ProfileIndex
from edge.risk_profiles.lane import Selectivity, draw
from edge.risk_profiles.lane import select as select_lane
from edge.risk_profiles.model import RuleSet
from edge.store.schema import (
    inspection_results,
    risk_arrivals,
    risk_profile_parts,
    risk_profile_sets,
)

KEEP_SETS = 3  # versions kept: the active one and two before it (for the record)
MAX_PARTS = 64
NO_DRAW = "none"


class PartOutcome(StrEnum):
    STORED = "stored"  # kept; the version is not complete yet
    ACTIVATED = "activated"  # the version is complete and now the active set
    OUTDATED = "outdated"  # not newer than the active set: ignored
    DUPLICATE = "duplicate"  # this part of this version was stored already


def active_version(conn: Connection) -> int | None:
    value = conn.execute(select(func.max(risk_profile_sets.c.version))).scalar()
    return int(value) if value is not None else None


def load_set(conn: Connection, version: int) -> RuleSet | None:
    body = conn.execute(
        select(risk_profile_sets.c.body).where(risk_profile_sets.c.version == version)
    ).scalar()
    return RuleSet.model_validate_json(body) if body is not None else None


def store_part(
    conn: Connection,
    *,
    header: Mapping[str, Any],
    part: int,
    parts: int,
    profiles: Sequence[Mapping[str, Any]],
    origin: str,
    now: dt.datetime,
) -> PartOutcome:
    """Keep one part of a set version (`header`: the RuleSet's fields but its profiles); when
    every part is in, the whole set is validated and becomes the active one, in the caller's
    transaction. ValueError: the parts do not make a valid set (the caller refuses the message,
    nothing is kept of the version)."""
    version = int(header["version"])
    if not 1 <= part <= parts <= MAX_PARTS:
        raise ValueError(f"part {part} of {parts}: expected 1 <= part <= parts <= {MAX_PARTS}")
    active = active_version(conn)
    if active is not None and version <= active:
        return PartOutcome.OUTDATED
    known = conn.execute(
        select(risk_profile_parts.c.part, risk_profile_parts.c.parts).where(
            risk_profile_parts.c.version == version
        )
    ).all()
    if any(row.parts != parts for row in known):
        raise ValueError(f"version {version}: parts {parts}, earlier parts said otherwise")
    if any(row.part == part for row in known):
        return PartOutcome.DUPLICATE
    body = json.dumps({"header": dict(header), "profiles": list(profiles)})
    conn.execute(
        insert(risk_profile_parts).values(
            version=version, part=part, parts=parts, origin=origin, received_at=now, body=body
        )
    )
    if len(known) + 1 < parts:
        return PartOutcome.STORED
    rows = conn.execute(
        select(risk_profile_parts.c.body)
        .where(risk_profile_parts.c.version == version)
        .order_by(risk_profile_parts.c.part)
    ).scalars()
    bodies = [json.loads(b) for b in rows]
    if any(b["header"] != bodies[0]["header"] for b in bodies):
        raise ValueError(f"version {version}: its parts disagree on the set's header")
    whole = {**bodies[0]["header"], "profiles": [p for b in bodies for p in b["profiles"]]}
    rules = RuleSet.model_validate(whole)  # ValidationError is a ValueError
    conn.execute(
        insert(risk_profile_sets).values(
            version=version, country=rules.country, origin=origin, issued_at=rules.issued_at,
            received_at=now, profiles=len(rules.profiles), body=rules.model_dump_json(),
        )
    )  # fmt: skip
    conn.execute(delete(risk_profile_parts).where(risk_profile_parts.c.version <= version))
    kept = select(risk_profile_sets.c.version).order_by(risk_profile_sets.c.version.desc())
    conn.execute(
        delete(risk_profile_sets).where(
            risk_profile_sets.c.version.not_in(kept.limit(KEEP_SETS).scalar_subquery())
        )
    )
    return PartOutcome.ACTIVATED


class ActiveProfiles:
    """The active set's index, in memory; rebuilt when a newer version is stored. Thread-safe:
    the kiosk's store thread and the inbox's may both ask."""

    def __init__(self) -> None:
        self._index: ProfileIndex | None = None
        self._lock = threading.Lock()

    def index(self, conn: Connection) -> ProfileIndex | None:
        version = active_version(conn)
        current = self._index
        if current is not None and current.version == version:
            return current
        if version is None:
            self._index = None
            return None
        with self._lock:
            if self._index is None or self._index.version != version:
                rules = load_set(conn, version)
                self._index = ProfileIndex(rules) if rules is not None else None
            return self._index


def truck_history(
    conn: Connection, truck_key: str | None, arrival_id: int, now: dt.datetime
) -> TruckHistory:
    """The truck's arrivals at this post before `arrival_id`, in the last year, and whether one
    was red or had an inspection finding."""
    if not truck_key:
        return TruckHistory()
    rows = conn.execute(
        select(risk_arrivals.c.arrival_id, risk_arrivals.c.opened_at, risk_arrivals.c.lane).where(
            risk_arrivals.c.truck_key == truck_key,
            risk_arrivals.c.arrival_id != arrival_id,
            risk_arrivals.c.opened_at >= now - dt.timedelta(days=366),
            risk_arrivals.c.opened_at <= now,
        )
    ).all()
    if not rows:
        return TruckHistory()
    finding = conn.execute(
        select(inspection_results.c.id)
        .where(
            inspection_results.c.arrival_id.in_([r.arrival_id for r in rows]),
            inspection_results.c.outcome == "found",
        )
        .limit(1)
    ).first()
    times = tuple(sorted(r.opened_at for r in rows))
    return TruckHistory(times, any(r.lane == "red" for r in rows), finding is not None)


def _hits_json(hits: Sequence[ProfileHit]) -> str:
    return json.dumps(
        [{"name": h.name, "version": h.version, "lane": h.lane.value, "reason": h.reason}
         for h in hits]
    )  # fmt: skip


@dataclass
class Selector:
    """Selects a truck's lane from the fixed rules, the active profiles and its random draw."""

    active: ActiveProfiles

    def select(
        self,
        conn: Connection,
        arrival_id: int,
        opened_at: dt.datetime,
        truck_key: str | None,
        fixed: RiskAssessment,
        facts: TruckFacts,
        now: dt.datetime,
    ) -> Selectivity:
        index = self.active.index(conn)
        row = conn.execute(
            select(risk_arrivals).where(risk_arrivals.c.arrival_id == arrival_id)
        ).first()
        if row is None:
            drawn = draw(index.rules.random) if index is not None else None
            drawn_text = drawn.value if drawn is not None else NO_DRAW
        else:
            drawn_text = row.draw
            drawn = RiskLane(drawn_text) if drawn_text != NO_DRAW else None
        hits: list[ProfileHit] = []
        if index is not None:
            history = truck_history(conn, truck_key, arrival_id, opened_at)
            facts = TruckFacts(**{**facts.__dict__, "history": history})
            hits = index.evaluate(facts, now)
        chosen = select_lane(fixed, hits, drawn, index.version if index else None)
        values = {
            "truck_key": truck_key, "set_version": chosen.set_version,
            "lane": chosen.lane.value, "profiles": _hits_json(hits),
            "random": chosen.random.value if chosen.random else None, "updated_at": now,
        }  # fmt: skip
        if row is None:
            conn.execute(
                insert(risk_arrivals).values(
                    arrival_id=arrival_id, opened_at=opened_at, draw=drawn_text, **values
                )
            )
        elif any(getattr(row, k) != v for k, v in values.items() if k != "updated_at"):
            conn.execute(
                update(risk_arrivals)
                .where(risk_arrivals.c.arrival_id == arrival_id)
                .values(**values)
            )
        return chosen
