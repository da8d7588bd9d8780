"""Officers' decisions on arrivals, and records officers attach to trucks by hand.

A decision releases a truck, sends it to a documentary check or a physical inspection, or
refuses it, with a reason code from a fixed list and an optional note. It is stored durably
with the officer's id, the record decided on and the risk lane shown, then the arrival is
closed (`Lanes.close(arrival_id, "decision")`) and the wiring's hooks run (they put the
decision's messages in the outbox), all in one transaction: a decision is never stored without
its messages, unless a hook fails, and then the decision is kept (it is the officer's act) and
left without its `decisions_queued` row, for the wiring to send at the service's next start
(`DecisionStore.unqueued`). The listeners are told after the commit.

Decisions are evidence: rows are only added, never changed. A supervisor reopens a decided (or
otherwise closed) truck with a row of kind `reopen`; the truck then awaits a decision again.

The lane sets the least strict decision an officer may take: a yellow truck gets at least a
documentary check, a red one at least a physical inspection. Refusing is always allowed. Only a
supervisor may go below the lane's minimum, and the row says so (`override`).
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select

from edge import faults
from edge.arrivals import Arrival, Lanes
from edge.logs import log_event
from edge.officers import Officer, Role
from edge.risk import RiskLane
from edge.store.schema import decisions, decisions_queued, manual_matches
from edge.timeutil import format_utc, utcnow

logger = logging.getLogger(__name__)

MAX_NOTE_CHARS = 1000


class DecisionKind(StrEnum):
    RELEASE = "release"
    DOCUMENTARY_CHECK = "documentary_check"
    PHYSICAL_INSPECTION = "physical_inspection"
    REFUSE = "refuse"
    REOPEN = "reopen"  # a supervisor takes a decided truck back; it awaits a decision again

    @property
    def is_final(self) -> bool:
        return self is not DecisionKind.REOPEN


FINAL_KINDS = tuple(k for k in DecisionKind if k.is_final)


class ReasonCode(StrEnum):
    DOCUMENTS_IN_ORDER = "DOCUMENTS_IN_ORDER"
    DISCREPANCY_EXPLAINED = "DISCREPANCY_EXPLAINED"
    LANE_REQUIRES_CHECK = "LANE_REQUIRES_CHECK"
    DOCUMENTS_INCOMPLETE = "DOCUMENTS_INCOMPLETE"
    DISCREPANCY_TO_CLARIFY = "DISCREPANCY_TO_CLARIFY"
    SEAL_PROBLEM = "SEAL_PROBLEM"
    RISK_INDICATOR = "RISK_INDICATOR"
    RANDOM_SELECTION = "RANDOM_SELECTION"
    NO_VALID_DOCUMENTS = "NO_VALID_DOCUMENTS"
    PROHIBITED_GOODS = "PROHIBITED_GOODS"
    DRIVER_NOT_ADMISSIBLE = "DRIVER_NOT_ADMISSIBLE"
    VEHICLE_NOT_ADMISSIBLE = "VEHICLE_NOT_ADMISSIBLE"
    DECISION_ERROR = "DECISION_ERROR"
    NEW_INFORMATION = "NEW_INFORMATION"


R = ReasonCode
REASONS: dict[DecisionKind, tuple[ReasonCode, ...]] = {
    DecisionKind.RELEASE: (R.DOCUMENTS_IN_ORDER, R.DISCREPANCY_EXPLAINED),
    DecisionKind.DOCUMENTARY_CHECK: (
        R.LANE_REQUIRES_CHECK, R.DOCUMENTS_INCOMPLETE, R.DISCREPANCY_TO_CLARIFY,
        R.RANDOM_SELECTION,
    ),
    DecisionKind.PHYSICAL_INSPECTION: (
        R.LANE_REQUIRES_CHECK, R.SEAL_PROBLEM, R.DISCREPANCY_TO_CLARIFY, R.RISK_INDICATOR,
        R.RANDOM_SELECTION,
    ),
    DecisionKind.REFUSE: (
        R.NO_VALID_DOCUMENTS, R.PROHIBITED_GOODS, R.DRIVER_NOT_ADMISSIBLE,
        R.VEHICLE_NOT_ADMISSIBLE,
    ),
    DecisionKind.REOPEN: (R.DECISION_ERROR, R.NEW_INFORMATION),
}  # fmt: skip

_STRICTNESS = {
    DecisionKind.RELEASE: 0,
    DecisionKind.DOCUMENTARY_CHECK: 1,
    DecisionKind.PHYSICAL_INSPECTION: 2,
    DecisionKind.REFUSE: 3,
}
LANE_MINIMUM = {
    RiskLane.GREEN: DecisionKind.RELEASE,
    RiskLane.YELLOW: DecisionKind.DOCUMENTARY_CHECK,
    RiskLane.RED: DecisionKind.PHYSICAL_INSPECTION,
}


def lane_minimum(lane: RiskLane | None) -> DecisionKind:
    """The least strict decision an officer may take on a truck of `lane`."""
    return LANE_MINIMUM[lane] if lane is not None else DecisionKind.RELEASE


def needs_override(kind: DecisionKind, lane: RiskLane | None) -> bool:
    """Whether deciding `kind` on a truck of `lane` goes below the lane's minimum."""
    return kind.is_final and _STRICTNESS[kind] < _STRICTNESS[lane_minimum(lane)]


@dataclass(frozen=True)
class RecordKey:
    issuer: str
    ref: str


@dataclass(frozen=True)
class Decision:
    id: int
    arrival_id: int
    officer_id: str
    kind: DecisionKind
    reason: ReasonCode
    note: str | None
    record: RecordKey | None
    risk_lane: RiskLane | None
    override: bool
    decided_at: dt.datetime

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "arrival_id": self.arrival_id,
            "officer_id": self.officer_id,
            "kind": self.kind.value,
            "reason": self.reason.value,
            "note": self.note,
            "issuer": self.record.issuer if self.record else None,
            "ref": self.record.ref if self.record else None,
            "risk_lane": self.risk_lane.value if self.risk_lane else None,
            "override": self.override,
            "decided_at": format_utc(self.decided_at),
        }


@dataclass(frozen=True)
class ManualMatch:
    arrival_id: int
    officer_id: str
    record: RecordKey
    attached_at: dt.datetime


class DecisionRefusedError(PermissionError):
    """The officer may not do this (role, or an override only a supervisor may make)."""


class DecisionInvalidError(ValueError):
    """The decision itself is malformed: a reason that does not fit, a note too long."""


class DecisionConflictError(RuntimeError):
    """The truck is not in a state for this: already decided, not decided, unknown."""


def awaiting_decision(arrival: Arrival, history: Sequence[Decision]) -> bool:
    """An open arrival nobody decided yet, or one a supervisor reopened."""
    if history:
        return history[-1].kind is DecisionKind.REOPEN
    return arrival.is_open


class DecisionStore:
    """The decisions table; every write is one durable transaction."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        arrival_id: int,
        officer_id: str,
        kind: DecisionKind,
        reason: ReasonCode,
        note: str | None,
        record: RecordKey | None,
        risk_lane: RiskLane | None,
        override: bool,
        at: dt.datetime,
        conn: Connection | None = None,
    ) -> Decision:
        """Add a row (in the caller's transaction, if given)."""
        if conn is None:
            with self.engine.begin() as own:
                return self.add(
                    arrival_id, officer_id, kind, reason, note, record, risk_lane, override,
                    at, own,
                )  # fmt: skip
        result = conn.execute(
            insert(decisions).values(
                arrival_id=arrival_id,
                officer_id=officer_id,
                kind=kind.value,
                reason=reason.value,
                note=note,
                manifest_issuer=record.issuer if record else None,
                manifest_ref=record.ref if record else None,
                risk_lane=risk_lane.value if risk_lane else None,
                override=int(override),
                decided_at=at,
            )
        )
        decision_id = int(result.inserted_primary_key[0])  # type: ignore[index]
        return Decision(
            decision_id, arrival_id, officer_id, kind, reason, note, record, risk_lane,
            override, at,
        )  # fmt: skip

    def for_arrival(self, arrival_id: int) -> list[Decision]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions)
                .where(decisions.c.arrival_id == arrival_id)
                .order_by(decisions.c.id)
            ).all()
        return [_decision(row) for row in rows]

    def latest(self, arrival_ids: Iterable[int]) -> dict[int, Decision]:
        """The latest decision (or reopening) of each of `arrival_ids` that has one."""
        ids = sorted(set(arrival_ids))
        out: dict[int, Decision] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(ids), 500):
                last = (
                    select(func.max(decisions.c.id))
                    .where(decisions.c.arrival_id.in_(ids[start : start + 500]))
                    .group_by(decisions.c.arrival_id)
                )
                rows = conn.execute(select(decisions).where(decisions.c.id.in_(last))).all()
                out.update((row.arrival_id, _decision(row)) for row in rows)
        return out

    def reopened(self) -> list[int]:
        """Arrivals whose latest row is a reopening: they await a decision again."""
        last = select(func.max(decisions.c.id)).group_by(decisions.c.arrival_id)
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions.c.arrival_id)
                .where(decisions.c.id.in_(last), decisions.c.kind == DecisionKind.REOPEN.value)
                .order_by(decisions.c.arrival_id)
            )
            return list(rows.scalars())

    def mark_queued(self, conn: Connection, decision_id: int, messages: int) -> None:
        """Record, in the caller's transaction, that a decision's messages are in the outbox."""
        conn.execute(
            insert(decisions_queued).values(
                decision_id=decision_id, messages=messages, queued_at=utcnow()
            )
        )

    def unqueued(self, after: int = 0, limit: int = 500) -> list[Decision]:
        """Final decisions after id `after` whose messages never reached the outbox, oldest
        first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions)
                .outerjoin(decisions_queued, decisions_queued.c.decision_id == decisions.c.id)
                .where(
                    decisions.c.id > after,
                    decisions_queued.c.decision_id.is_(None),
                    decisions.c.kind != DecisionKind.REOPEN.value,
                )
                .order_by(decisions.c.id)
                .limit(limit)
            ).all()
        return [_decision(row) for row in rows]

    def between(self, since: dt.datetime, until: dt.datetime) -> list[Decision]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(decisions)
                .where(decisions.c.decided_at >= since, decisions.c.decided_at < until)
                .order_by(decisions.c.id)
            ).all()
        return [_decision(row) for row in rows]


class ManualMatchStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def attach(
        self, arrival_id: int, officer_id: str, record: RecordKey, at: dt.datetime
    ) -> ManualMatch:
        with self.engine.begin() as conn:
            conn.execute(
                insert(manual_matches).values(
                    arrival_id=arrival_id,
                    officer_id=officer_id,
                    manifest_issuer=record.issuer,
                    manifest_ref=record.ref,
                    attached_at=at,
                )
            )
        return ManualMatch(arrival_id, officer_id, record, at)

    def latest(self, arrival_id: int) -> ManualMatch | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(manual_matches)
                .where(manual_matches.c.arrival_id == arrival_id)
                .order_by(manual_matches.c.id.desc())
                .limit(1)
            ).one_or_none()
        if row is None:
            return None
        return ManualMatch(
            row.arrival_id,
            row.officer_id,
            RecordKey(row.manifest_issuer, row.manifest_ref),
            row.attached_at,
        )


DecisionListener = Callable[[Decision], None]
# Runs inside the decision's transaction, on its connection (the wiring: the outbox's rows and
# `DecisionStore.mark_queued`). One that raises is rolled back alone; the decision stays.
DecisionHook = Callable[[Connection, Decision], None]


class Decisions:
    """Checks and records decisions; closes the arrival; runs the hooks in the same
    transaction; tells the listeners once it is committed.

    Call it where `Lanes` is called (the service's store thread): closing goes through Lanes.
    """

    def __init__(self, store: DecisionStore, lanes: Lanes) -> None:
        self.store = store
        self.lanes = lanes
        self.listeners: list[DecisionListener] = []
        self.hooks: list[DecisionHook] = []
        self.hook_failures = 0  # decisions kept without their hooks' rows (sent at next start)

    def decide(
        self,
        officer: Officer,
        arrival_id: int,
        kind: DecisionKind,
        reason: ReasonCode,
        note: str | None,
        record: RecordKey | None,
        lane: RiskLane | None,
        at: dt.datetime | None = None,
    ) -> Decision:
        if not (officer.active and officer.role.decides):
            raise DecisionRefusedError(
                f"{officer.role.value} {officer.id} may not decide on trucks"
            )
        if not kind.is_final:
            raise DecisionInvalidError(f"kind: {kind.value} is not a decision; reopen instead")
        override = needs_override(kind, lane)
        if override and officer.role is not Role.SUPERVISOR:
            raise DecisionRefusedError(
                f"a {lane} truck needs at least {lane_minimum(lane).value}"
                " unless a supervisor overrides"
            )
        arrival = self._awaiting(arrival_id)
        reason, note = _reason(kind, reason), _note(note)
        with self.store.engine.begin() as conn:
            decision = self.store.add(
                arrival_id, officer.id, kind, reason, note, record, lane, override,
                at or utcnow(), conn,
            )  # fmt: skip
            if arrival.is_open:
                self.lanes.close(arrival_id, "decision", decision.decided_at, conn)
            self._run_hooks(conn, decision)
            faults.reached("decision.before_commit")
        faults.reached("decision.committed")
        self._tell(decision)
        return decision

    def reopen(
        self,
        officer: Officer,
        arrival_id: int,
        reason: ReasonCode,
        note: str | None,
        at: dt.datetime | None = None,
    ) -> Decision:
        if not (officer.active and officer.role is Role.SUPERVISOR):
            raise DecisionRefusedError(
                f"only a supervisor may reopen; {officer.id} is {officer.role}"
            )
        arrival = self.lanes.store.get(arrival_id)
        if arrival is None:
            raise DecisionConflictError(f"no arrival {arrival_id}")
        history = self.store.for_arrival(arrival_id)
        if awaiting_decision(arrival, history):
            raise DecisionConflictError(
                f"arrival {arrival_id} awaits a decision; nothing to reopen"
            )
        last = history[-1] if history else None
        with self.store.engine.begin() as conn:
            decision = self.store.add(
                arrival_id, officer.id, DecisionKind.REOPEN,
                _reason(DecisionKind.REOPEN, reason), _note(note),
                last.record if last else None, last.risk_lane if last else None, False,
                at or utcnow(), conn,
            )  # fmt: skip
            self._run_hooks(conn, decision)
        self._tell(decision)
        return decision

    def _awaiting(self, arrival_id: int) -> Arrival:
        arrival = self.lanes.store.get(arrival_id)
        if arrival is None:
            raise DecisionConflictError(f"no arrival {arrival_id}")
        if not awaiting_decision(arrival, self.store.for_arrival(arrival_id)):
            raise DecisionConflictError(f"arrival {arrival_id} does not await a decision")
        return arrival

    def _run_hooks(self, conn: Connection, decision: Decision) -> None:
        for hook in self.hooks:
            try:
                with conn.begin_nested():  # a savepoint: a failing hook takes back its own rows
                    hook(conn, decision)
            except Exception as error:
                # The decision is the officer's act and stays; without its `decisions_queued`
                # row the wiring sends it at the next start.
                self.hook_failures += 1
                # Its type only: the message of a model's error may quote the note.
                log_event(
                    logger, logging.ERROR, "decision.hook_failed", decision=decision.id,
                    hook=getattr(hook, "__name__", "hook"), error=type(error).__name__,
                    failures=self.hook_failures,
                )  # fmt: skip

    def _tell(self, decision: Decision) -> None:
        fields = decision.to_dict()
        fields["note"] = bool(fields["note"])  # whether there is one: its text stays out of logs
        log_event(logger, logging.INFO, "decision.stored", **fields)
        for listener in self.listeners:
            try:
                listener(decision)
            except Exception:  # committed with its messages; a listener only refreshes views
                log_event(
                    logger, logging.ERROR, "decision.listener_failed", exc_info=True,
                    decision=decision.id,
                )  # fmt: skip


def _reason(kind: DecisionKind, reason: ReasonCode) -> ReasonCode:
    if reason not in REASONS[kind]:
        allowed = ", ".join(r.value for r in REASONS[kind])
        raise DecisionInvalidError(
            f"reason: {reason.value} does not fit {kind.value}; use {allowed}"
        )
    return reason


def _note(note: str | None) -> str | None:
    if note is None:
        return None
    text = "".join(ch for ch in note.strip() if ch.isprintable() or ch == "\n")
    if len(text) > MAX_NOTE_CHARS:
        raise DecisionInvalidError(f"note: {len(text)} characters; at most {MAX_NOTE_CHARS}")
    return text or None


def _decision(row: Any) -> Decision:
    record = RecordKey(row.manifest_issuer, row.manifest_ref) if row.manifest_ref else None
    return Decision(
        id=row.id,
        arrival_id=row.arrival_id,
        officer_id=row.officer_id,
        kind=DecisionKind(row.kind),
        reason=ReasonCode(row.reason),
        note=row.note,
        record=record,
        risk_lane=RiskLane(row.risk_lane) if row.risk_lane else None,
        override=bool(row.override),
        decided_at=row.decided_at,
    )
