"""Rollouts kept in the centre's database (`fleet_rollouts`, `fleet_rollout_boxes`) and driven
by the rules of `centre.updates.rollout`: the operator starts, pauses, resumes and aborts one;
the driver (the centre's periodic job, and each batch of health reports and command results,
in the inbox's transaction) times out silent boxes, halts a phase over its threshold (with an
alert), advances, and sends the `update` command through the fleet desk's command path.

A rollout row is locked while it is driven (`FOR UPDATE` on PostgreSQL; SQLite writes one at a
time), so two centre instances never command a box twice."""

from __future__ import annotations

import datetime as dt
import logging
import re
from collections.abc import Callable, Iterable, Sequence

import orjson
from sqlalchemy import Connection, Engine, bindparam, insert, select, update

from centre.audit import audit
from centre.config import FleetSection
from centre.fleet.alerts import Finding, reconcile
from centre.fleet.desk import MAX_TTL, FleetDesk, FleetError
from centre.store.schema import fleet_rollout_boxes, fleet_rollouts
from centre.updates.rollout import (
    ACTIVE,
    FINISHED,
    REPORTED,
    Box,
    Phase,
    RolloutError,
    Step,
    assign_phases,
    check_phases,
    next_step,
    operate,
)
from centre.updates.rollout_rows import (
    RolloutDetail,
    RolloutRow,
    box_rows,
    read_detail,
    read_rollouts,
    rollout_row,
)
from edge.logs import log_event
from edge.timeutil import utcnow
from sync.messages import CommandResultMessage, HealthMessage, new_message_id

log = logging.getLogger(__name__)

TARGET = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")  # sync.messages.TargetName
VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._+~-]{0,63}$")
MAX_SELECTION = 10_000
MAX_REASON = 500
ALERT_KIND = "rollout"
TERMINAL = frozenset({"done", "halted", "aborted"})
START_LOCK = 7207210  # PostgreSQL advisory lock: a box joins one active rollout at a time


class RolloutStore:
    def __init__(
        self,
        engine: Engine,
        desk: FleetDesk,
        settings: FleetSection | None = None,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        self.engine = engine
        self.desk = desk
        self.settings = settings or desk.settings
        self.clock = clock

    # -- the operator ------------------------------------------------------------------------

    def start(
        self,
        target: str,
        version: str,
        node_ids: Sequence[str],
        phases: Sequence[Phase],
        *,
        operator: str,
        threshold: float = 0.0,
        min_finished: int = 1,
        box_timeout: dt.timedelta | None = None,
    ) -> str:
        """A new rollout of `target` to the boxes, started at once (its canary commanded);
        its id. RolloutError names every problem, and nothing is stored then."""
        timeout = box_timeout or dt.timedelta(minutes=self.settings.rollout_box_timeout_minutes)
        problems = _start_problems(target, version, node_ids, threshold, min_finished, timeout)
        try:
            check_phases(phases)
        except RolloutError as error:
            problems += error.reasons
        if problems:
            raise RolloutError(problems)
        rollout_id = new_message_id()
        now = self.clock()
        assigned = assign_phases(len(node_ids), phases)
        with self.engine.begin() as conn:
            try:
                self.desk._enrolled(conn, node_ids)
            except FleetError as error:
                raise RolloutError(error.reasons) from None
            if conn.dialect.name == "postgresql":  # two starts at once: one checks after the other
                conn.exec_driver_sql(f"SELECT pg_advisory_xact_lock({START_LOCK})")
            _not_in_another(conn, node_ids)
            conn.execute(insert(fleet_rollouts).values(
                rollout_id=rollout_id, target=target, version=version,
                selection=orjson.dumps(list(node_ids)).decode(),
                phases=orjson.dumps([p.as_json() for p in phases]).decode(),
                threshold=threshold, min_finished=min_finished,
                box_timeout_s=int(timeout.total_seconds()), state="running", phase=0,
                created_by=operator, created_at=now, updated_by=operator, updated_at=now,
            ))  # fmt: skip
            conn.execute(insert(fleet_rollout_boxes), [
                {"rollout_id": rollout_id, "node_id": node, "phase": phase, "state": "queued",
                 "updated_at": now}
                for node, phase in zip(node_ids, assigned, strict=True)
            ])  # fmt: skip
            audit(conn, operator, "fleet.rollout", f"rollout:{rollout_id}", "",
                  f"start {target} ({version}) to {len(node_ids)} boxes, phases "
                  + ", ".join(p.label() for p in phases)
                  + f", threshold {threshold:.0%}")  # fmt: skip
            self._drive(conn, rollout_id, now)
        log_event(log, logging.INFO, "rollout.started", rollout=rollout_id, target=target,
                  boxes=len(node_ids))  # fmt: skip
        return rollout_id

    def operate(self, rollout_id: str, operation: str, *, operator: str, reason: str = "") -> str:
        """Pause, resume or abort; the rollout's new state. RolloutError when it may not."""
        now = self.clock()
        with self.engine.begin() as conn:
            row = _locked(conn, rollout_id)
            if row is None:
                raise RolloutError([f"rollout {rollout_id}: no such rollout"])
            after = operate(row.state, operation)
            values: dict[str, object] = {"state": after, "updated_by": operator,
                                         "updated_at": now}  # fmt: skip
            if after in TERMINAL:
                values |= {"finished_at": now, "reason": reason[:MAX_REASON] or "aborted"}
            conn.execute(
                update(fleet_rollouts).where(fleet_rollouts.c.rollout_id == rollout_id), values
            )
            if after == "aborted":
                _clear_alerts(conn, rollout_id, now)
            audit(conn, operator, "fleet.rollout", f"rollout:{rollout_id}", reason[:MAX_REASON],
                  f"{operation}: {row.state} -> {after}")  # fmt: skip
            if after == "running":
                self._drive(conn, rollout_id, now)
        log_event(log, logging.INFO, "rollout.operated", rollout=rollout_id,
                  operation=operation, state=after)  # fmt: skip
        return after

    # -- the driver --------------------------------------------------------------------------

    def drive(self) -> dict[str, Step]:
        """One pass over every running or paused rollout; the step each took."""
        with self.engine.connect() as conn:
            ids = list(
                conn.execute(
                    select(fleet_rollouts.c.rollout_id)
                    .where(fleet_rollouts.c.state.in_(sorted(ACTIVE)))
                    .order_by(fleet_rollouts.c.created_at)
                ).scalars()
            )  # fmt: skip
        steps = {}
        for rollout_id in ids:
            with self.engine.begin() as conn:
                step = self._drive(conn, rollout_id, self.clock())
            if step is not None:
                steps[rollout_id] = step
        return steps

    def _drive(self, conn: Connection, rollout_id: str, now: dt.datetime) -> Step | None:
        row = _locked(conn, rollout_id)
        if row is None or row.state not in ACTIVE:
            return None
        boxes = box_rows(conn, rollout_id)
        step = next_step(
            row.rules(), [Box(b.node_id, b.phase, b.state, b.updated_at) for b in boxes], now
        )
        if not step.changes(row.rules()):
            return step
        if step.timed_out:
            minutes = int(row.box_timeout.total_seconds() // 60)
            was = {b.node_id: b.state for b in boxes}
            for state in sorted({was[node] for node in step.timed_out}):
                late = [node for node in step.timed_out if was[node] == state]
                _set_boxes(conn, rollout_id, late, "failed",
                           f"no report for {minutes} minutes (last: {state})", now)  # fmt: skip
        if step.command:
            self._command(conn, row, step.command, now)
        values: dict[str, object] = {"state": step.state, "phase": step.phase, "updated_at": now}
        if step.state in TERMINAL:
            values |= {"finished_at": now, "reason": step.reason[:MAX_REASON]}
        conn.execute(
            update(fleet_rollouts).where(fleet_rollouts.c.rollout_id == rollout_id), values
        )
        if step.state == "halted":
            self._alert(conn, rollout_id, row, step, now)
        if step.state != row.state or step.phase != row.phase:
            log_event(log, logging.WARNING if step.state == "halted" else logging.INFO,
                      "rollout.step", rollout=rollout_id, state=step.state,
                      phase=step.phase + 1, commanded=len(step.command))  # fmt: skip
        return step

    def _command(
        self, conn: Connection, row: RolloutRow, nodes: Sequence[str], now: dt.datetime
    ) -> None:
        # The box must start before its timeout would count it failed anyway.
        ttl = min(max(row.box_timeout, dt.timedelta(seconds=10)), MAX_TTL)
        for start in range(0, len(nodes), 500):
            chunk = list(nodes[start : start + 500])
            ids = self.desk.send_commands(
                conn, chunk, "update", operator=row.created_by, ttl=ttl, target=row.target,
                rollout=row.rollout_id,
            )  # fmt: skip
            conn.execute(
                update(fleet_rollout_boxes)
                .where(fleet_rollout_boxes.c.rollout_id == row.rollout_id,
                       fleet_rollout_boxes.c.node_id == bindparam("node"))
                .values(state="commanded", command_id=bindparam("command"), updated_at=now),
                [{"node": n, "command": c} for n, c in zip(chunk, ids, strict=True)],
            )  # fmt: skip

    def _alert(
        self, conn: Connection, rollout_id: str, row: RolloutRow, step: Step, now: dt.datetime
    ) -> None:
        # On the phase's first failed box: the alert shows on its page and goes to the hooks.
        bad = conn.execute(
            select(fleet_rollout_boxes.c.node_id)
            .where(fleet_rollout_boxes.c.rollout_id == rollout_id,
                   fleet_rollout_boxes.c.phase == step.phase,
                   fleet_rollout_boxes.c.state.in_(["failed", "rolled_back"]))
            .order_by(fleet_rollout_boxes.c.updated_at, fleet_rollout_boxes.c.node_id).limit(1)
        ).scalar()  # fmt: skip
        if bad is None:
            return
        reason = f"rollout of {row.target} halted: {step.reason}"[:300]
        finding = Finding(ALERT_KIND, rollout_id, reason, "red")
        reconcile(conn, now, {bad: [finding]}, (ALERT_KIND,), (rollout_id,))

    # -- what boxes report (in the inbox's transaction: centre.fleet.reports) ----------------

    def health(self, conn: Connection, reports: Sequence[HealthMessage], now: dt.datetime) -> None:
        """Each box's update phase for the rollout it names; the rollouts moved on."""
        named = [
            (report.node, report.update.rollout, report.update)
            for report in reports
            if report.update is not None and report.update.rollout is not None
            and report.update.phase in REPORTED
        ]  # fmt: skip
        if not named:
            return
        rollout_ids = {rollout_id for _, rollout_id, _ in named if rollout_id is not None}
        _lock_all(conn, rollout_ids)
        # Most reports repeat what is stored: one read tells which change anything.
        stored = {
            (row.rollout_id, row.node_id): row.state
            for row in conn.execute(
                select(fleet_rollout_boxes.c.rollout_id, fleet_rollout_boxes.c.node_id,
                       fleet_rollout_boxes.c.state)
                .where(fleet_rollout_boxes.c.node_id.in_(sorted({n for n, _, _ in named})),
                       fleet_rollout_boxes.c.rollout_id.in_(sorted(rollout_ids)))
            )
        }  # fmt: skip
        touched: set[str] = set()
        for node, rollout_id, update_report in named:
            state = stored.get((rollout_id, node))
            if state is None or state in FINISHED or state == "queued":
                continue  # not commanded by this rollout, or already finished in it
            if state == update_report.phase:
                continue
            conn.execute(
                update(fleet_rollout_boxes)
                .where(fleet_rollout_boxes.c.rollout_id == rollout_id,
                       fleet_rollout_boxes.c.node_id == node)
                .values(state=update_report.phase,
                        reason=(update_report.reason or "")[:MAX_REASON] or None,
                        updated_at=now)
            )  # fmt: skip
            stored[(rollout_id, node)] = update_report.phase
            if rollout_id is not None:
                touched.add(rollout_id)
        for rollout_id in sorted(touched):
            self._drive(conn, rollout_id, now)

    def results(
        self, conn: Connection, results: Sequence[CommandResultMessage], now: dt.datetime
    ) -> None:
        """An update command the box failed, refused or let expire fails its box at once."""
        failed = [r for r in results if r.action == "update" and r.outcome != "done"]
        if not failed:
            return
        rollout_of = {
            command_id: rollout_id
            for command_id, rollout_id in conn.execute(
                select(fleet_rollout_boxes.c.command_id, fleet_rollout_boxes.c.rollout_id)
                .where(fleet_rollout_boxes.c.command_id.in_([r.command_id for r in failed]))
            )
        }  # fmt: skip
        _lock_all(conn, set(rollout_of.values()))
        touched = set()
        for result in failed:
            rollout_id = rollout_of.get(result.command_id)
            if rollout_id is None:
                continue
            first = result.output.strip().splitlines()[0] if result.output.strip() else ""
            reason = f"command {result.outcome}" + (f": {first}" if first else "")
            changed = conn.execute(
                update(fleet_rollout_boxes)
                .where(fleet_rollout_boxes.c.rollout_id == rollout_id,
                       fleet_rollout_boxes.c.node_id == result.node,
                       fleet_rollout_boxes.c.state.not_in(sorted(FINISHED)))
                .values(state="failed", reason=reason[:MAX_REASON], updated_at=now)
            ).rowcount  # fmt: skip
            if changed:
                touched.add(rollout_id)
        for rollout_id in sorted(touched):
            self._drive(conn, rollout_id, now)

    # -- what the console reads --------------------------------------------------------------

    def rollouts(self, limit: int = 100) -> list[RolloutRow]:
        return read_rollouts(self.engine, limit)

    def detail(self, rollout_id: str) -> RolloutDetail | None:
        return read_detail(self.engine, rollout_id)


def _start_problems(
    target: str, version: str, node_ids: Sequence[str], threshold: float, min_finished: int,
    timeout: dt.timedelta,
) -> list[str]:  # fmt: skip
    problems = []
    if not TARGET.match(target):
        problems.append(f"target: {target[:40]!r}; a TUF target's file name such as "
                        "carec-edge-1.5.0.raucb")  # fmt: skip
    if not VERSION.match(version):
        problems.append(f"version: {version[:40]!r}; letters, digits and . _ + ~ -")
    if not 1 <= len(node_ids) <= MAX_SELECTION:
        problems.append(f"boxes: {len(node_ids)}; between 1 and {MAX_SELECTION}")
    if len(set(node_ids)) != len(node_ids):
        problems.append("boxes: a box is named twice")
    if not 0.0 <= threshold <= 1.0:
        problems.append(f"threshold: {threshold}; a share from 0 to 1")
    if not 1 <= min_finished <= 1000:
        problems.append(f"min_finished: {min_finished}; from 1 to 1000")
    if not dt.timedelta(minutes=5) <= timeout <= MAX_TTL:
        problems.append(f"box timeout: {timeout}; from 5 minutes to {MAX_TTL.days} days")
    return problems


def _not_in_another(conn: Connection, node_ids: Sequence[str]) -> None:
    """A box takes part in one running or paused rollout at a time."""
    busy: dict[str, str] = {}
    for start in range(0, len(node_ids), 1000):
        rows = conn.execute(
            select(fleet_rollout_boxes.c.node_id, fleet_rollout_boxes.c.rollout_id)
            .join(fleet_rollouts,
                  fleet_rollouts.c.rollout_id == fleet_rollout_boxes.c.rollout_id)
            .where(fleet_rollouts.c.state.in_(sorted(ACTIVE)),
                   fleet_rollout_boxes.c.node_id.in_(list(node_ids[start : start + 1000])))
        )  # fmt: skip
        busy |= {node: rollout for node, rollout in rows}
    if busy:
        raise RolloutError([
            f"{node}: in rollout {rollout} already (pause is not enough: abort it first)"
            for node, rollout in sorted(busy.items())[:20]
        ])  # fmt: skip


def _locked(conn: Connection, rollout_id: str) -> RolloutRow | None:
    query = select(fleet_rollouts).where(fleet_rollouts.c.rollout_id == rollout_id)
    if conn.dialect.name == "postgresql":
        query = query.with_for_update()
    row = conn.execute(query).first()
    return rollout_row(row) if row is not None else None


def _lock_all(conn: Connection, rollout_ids: set[str]) -> None:
    """The rollouts' rows locked before any of their boxes' (PostgreSQL), in one order: the
    driver locks a rollout, then writes its boxes; the inbox's batch must not take the boxes
    first, or each would wait on the other."""
    if conn.dialect.name != "postgresql" or not rollout_ids:
        return
    conn.execute(
        select(fleet_rollouts.c.rollout_id)
        .where(fleet_rollouts.c.rollout_id.in_(sorted(rollout_ids)))
        .order_by(fleet_rollouts.c.rollout_id)
        .with_for_update()
    ).all()  # fmt: skip


def _set_boxes(
    conn: Connection, rollout_id: str, nodes: Iterable[str], state: str, reason: str,
    now: dt.datetime,
) -> None:  # fmt: skip
    conn.execute(
        update(fleet_rollout_boxes)
        .where(fleet_rollout_boxes.c.rollout_id == rollout_id,
               fleet_rollout_boxes.c.node_id.in_(list(nodes)))
        .values(state=state, reason=reason[:MAX_REASON], updated_at=now)
    )  # fmt: skip


def _clear_alerts(conn: Connection, rollout_id: str, now: dt.datetime) -> None:
    from centre.store.schema import fleet_alerts

    nodes = conn.execute(
        select(fleet_alerts.c.node_id)
        .where(fleet_alerts.c.kind == ALERT_KIND, fleet_alerts.c.subject == rollout_id,
               fleet_alerts.c.cleared_at.is_(None))
    ).scalars()  # fmt: skip
    reconcile(conn, now, {node: [] for node in nodes}, (ALERT_KIND,), (rollout_id,))
