"""The boxes' inspection results at the centre, and the hit rates a country retires profiles
by: for each profile, the checks it sent trucks to and how many found something; the same for
the random selection. A truck is counted when its box reported a result: trucks a profile
selected but that were released without a check (a supervisor's override) are not counted."""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, case, func, insert, select

from centre.store.schema import risk_inspection_results, risk_result_profiles
from edge.logs import log_event
from edge.timeutil import utcnow
from sync.envelope import Envelope
from sync.inbox import Effects
from sync.messages import InspectionResultMessage

log = logging.getLogger(__name__)


def store_results(conn: Connection, envelopes: Sequence[Envelope]) -> None:
    """The inbox's batch applier of `inspection_result`: each (box, result) kept once."""
    now = utcnow()
    for envelope in envelopes:
        payload = envelope.payload
        assert isinstance(payload, InspectionResultMessage)
        node = payload.arrival.node
        known = conn.execute(
            select(risk_inspection_results.c.id).where(
                risk_inspection_results.c.node == node,
                risk_inspection_results.c.result_id == payload.result_id,
            )
        ).first()
        if known is not None:
            continue
        inserted = conn.execute(
            insert(risk_inspection_results).values(
                node=node, result_id=payload.result_id, arrival_id=payload.arrival.arrival_id,
                message_id=envelope.id,
                decision=payload.decision.value if payload.decision else None,
                outcome=payload.outcome, findings=json.dumps(list(payload.findings)),
                note=payload.note, officer=payload.officer, lane=payload.lane,
                set_version=payload.set_version, random=payload.random,
                recorded_at=payload.recorded_at, received_at=now,
            )
        ).inserted_primary_key  # fmt: skip
        assert inserted is not None
        if payload.profiles:
            conn.execute(
                insert(risk_result_profiles),
                [{"result": inserted[0], "name": p.name, "version": p.version}
                 for p in payload.profiles],
            )  # fmt: skip
        log_event(log, logging.INFO, "risk.inspection_result", node=node,
                  result=payload.result_id, outcome=payload.outcome)  # fmt: skip


def inspection_result_applier() -> Effects:
    return Effects(store_results)


@dataclass(frozen=True)
class HitRate:
    name: str  # a profile's name, or "random"
    version: int | None  # the profile's version; None for random
    lane: str | None  # random: the lane it sent trucks to
    checked: int  # trucks selected that were checked and reported
    found: int  # of which the check found something

    @property
    def rate(self) -> float | None:
        return self.found / self.checked if self.checked else None


def hit_rates(engine: Engine) -> tuple[list[HitRate], list[HitRate]]:
    """(each profile version's, the random selection's by lane), the most checked first."""
    found = func.sum(case((risk_inspection_results.c.outcome == "found", 1), else_=0))
    with engine.connect() as conn:
        profiles = conn.execute(
            select(risk_result_profiles.c.name, risk_result_profiles.c.version,
                   func.count().label("checked"), found.label("found"))
            .join(risk_inspection_results,
                  risk_inspection_results.c.id == risk_result_profiles.c.result)
            .group_by(risk_result_profiles.c.name, risk_result_profiles.c.version)
            .order_by(func.count().desc(), risk_result_profiles.c.name)
        ).all()  # fmt: skip
        random = conn.execute(
            select(risk_inspection_results.c.random, func.count().label("checked"),
                   found.label("found"))
            .where(risk_inspection_results.c.random.is_not(None))
            .group_by(risk_inspection_results.c.random)
            .order_by(risk_inspection_results.c.random)
        ).all()  # fmt: skip
    return (
        [
            HitRate(r.name, int(r.version), None, int(r.checked), int(r.found or 0))
            for r in profiles
        ],
        [HitRate("random", None, r.random, int(r.checked), int(r.found or 0)) for r in random],
    )
