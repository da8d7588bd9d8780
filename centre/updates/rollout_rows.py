"""The rows of a rollout as the store keeps them (`fleet_rollouts`, `fleet_rollout_boxes`) and
as the console and the command line read them, and their retention (a finished rollout goes
with its boxes [fleet] rollouts_days after it finished)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, delete, select

from centre.store.schema import fleet_rollout_boxes, fleet_rollouts
from centre.updates.rollout import Phase, Rollout


@dataclass(frozen=True)
class RolloutRow:
    rollout_id: str
    target: str
    version: str
    phases: tuple[Phase, ...]
    threshold: float
    min_finished: int
    box_timeout: dt.timedelta
    state: str
    phase: int
    reason: str
    created_by: str
    created_at: dt.datetime
    updated_by: str
    updated_at: dt.datetime
    finished_at: dt.datetime | None

    def rules(self) -> Rollout:
        return Rollout(
            self.state, self.phase, self.phases, self.threshold, self.min_finished,
            self.box_timeout,
        )  # fmt: skip


@dataclass(frozen=True)
class BoxRow:
    node_id: str
    phase: int
    state: str
    reason: str
    command_id: str | None
    updated_at: dt.datetime


@dataclass(frozen=True)
class PhaseProgress:
    index: int
    label: str
    counts: dict[str, int]  # box state -> how many

    @property
    def boxes(self) -> int:
        return sum(self.counts.values())


@dataclass(frozen=True)
class RolloutDetail:
    rollout: RolloutRow
    phases: list[PhaseProgress]
    boxes: list[BoxRow]  # by phase, then node


def read_rollouts(engine: Engine, limit: int = 100) -> list[RolloutRow]:
    """The latest rollouts, newest first."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(fleet_rollouts).order_by(fleet_rollouts.c.created_at.desc()).limit(limit)
        ).all()
    return [rollout_row(r) for r in rows]


def read_detail(engine: Engine, rollout_id: str) -> RolloutDetail | None:
    """One rollout whole: each phase's boxes counted by state, and each box."""
    with engine.connect() as conn:
        row = conn.execute(
            select(fleet_rollouts).where(fleet_rollouts.c.rollout_id == rollout_id)
        ).first()
        if row is None:
            return None
        boxes = box_rows(conn, rollout_id)
    rollout = rollout_row(row)
    phases = []
    for index, phase in enumerate(rollout.phases):
        counts: dict[str, int] = {}
        for box in boxes:
            if box.phase == index:
                counts[box.state] = counts.get(box.state, 0) + 1
        phases.append(PhaseProgress(index, phase.label(), counts))
    return RolloutDetail(rollout, phases, boxes)


def box_rows(conn: Connection, rollout_id: str) -> list[BoxRow]:
    rows = conn.execute(
        select(fleet_rollout_boxes)
        .where(fleet_rollout_boxes.c.rollout_id == rollout_id)
        .order_by(fleet_rollout_boxes.c.phase, fleet_rollout_boxes.c.node_id)
    )  # fmt: skip
    return [
        BoxRow(r.node_id, r.phase, r.state, r.reason or "", r.command_id, r.updated_at)
        for r in rows
    ]


def rollout_row(r: Any) -> RolloutRow:
    """A row of fleet_rollouts."""
    return RolloutRow(
        rollout_id=r.rollout_id, target=r.target, version=r.version,
        phases=tuple(Phase(**p) for p in orjson.loads(r.phases)), threshold=r.threshold,
        min_finished=r.min_finished, box_timeout=dt.timedelta(seconds=r.box_timeout_s),
        state=r.state, phase=r.phase, reason=r.reason or "", created_by=r.created_by,
        created_at=r.created_at, updated_by=r.updated_by, updated_at=r.updated_at,
        finished_at=r.finished_at,
    )  # fmt: skip


def purge_rollouts(conn: Connection, now: dt.datetime, days: int) -> int:
    """Retention: rollouts finished `days` ago go, with their boxes; how many rollouts."""
    before = now - dt.timedelta(days=days)
    old = list(
        conn.execute(
            select(fleet_rollouts.c.rollout_id)
            .where(fleet_rollouts.c.finished_at.is_not(None),
                   fleet_rollouts.c.finished_at < before)
        ).scalars()
    )  # fmt: skip
    if not old:
        return 0
    conn.execute(delete(fleet_rollout_boxes).where(fleet_rollout_boxes.c.rollout_id.in_(old)))
    return conn.execute(delete(fleet_rollouts).where(fleet_rollouts.c.rollout_id.in_(old))).rowcount
