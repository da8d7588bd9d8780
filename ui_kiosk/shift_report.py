"""The shift report: trucks handled, by lane and decision, how long they waited, and how many
came with a pre-arrival record. Computed from the decisions of the shift (pure)."""

from __future__ import annotations

import datetime as dt
import math
from collections import Counter
from collections.abc import Mapping, Sequence

from edge.decisions import Decision, DecisionKind
from edge.risk import RiskLane
from ui_kiosk.models import ReportCell, ShiftReport


def shift_report(
    decisions: Sequence[Decision],
    opened_at: Mapping[int, dt.datetime],
    since: dt.datetime,
    until: dt.datetime,
) -> ShiftReport:
    """`decisions`: every row of the shift, oldest first; `opened_at`: when each truck arrived.

    A truck counts once, as its latest row in the shift says; its waiting time runs from its
    arrival to its first decision of the shift."""
    by_arrival: dict[int, list[Decision]] = {}
    for decision in decisions:
        by_arrival.setdefault(decision.arrival_id, []).append(decision)
    cells: Counter[tuple[RiskLane | None, DecisionKind]] = Counter()
    waits: list[float] = []
    reopened = with_record = 0
    for arrival_id, rows in by_arrival.items():
        last = rows[-1]
        if not last.kind.is_final:
            reopened += 1
            continue
        cells[(last.risk_lane, last.kind)] += 1
        with_record += last.record is not None
        first = next(r for r in rows if r.kind.is_final)
        if arrival_id in opened_at:
            waits.append((first.decided_at - opened_at[arrival_id]).total_seconds() / 60)
    handled = sum(cells.values())
    waits.sort()
    return ShiftReport(
        since=since,
        until=until,
        handled=handled,
        cells=[
            ReportCell(risk_lane=lane, decision=kind, trucks=count)
            for (lane, kind), count in sorted(cells.items(), key=_cell_order)
        ],
        reopened=reopened,
        overrides=sum(d.override for d in decisions),
        minutes_to_decision_median=_percentile(waits, 0.5),
        minutes_to_decision_p90=_percentile(waits, 0.9),
        minutes_to_decision_max=waits[-1] if waits else None,
        with_pre_arrival=with_record,
        coverage=with_record / handled if handled else None,
    )


_LANE_ORDER: dict[RiskLane | None, int] = {lane: i for i, lane in enumerate(RiskLane)}
_KIND_ORDER = {kind: i for i, kind in enumerate(DecisionKind)}


def _cell_order(item: tuple[tuple[RiskLane | None, DecisionKind], int]) -> tuple[int, int]:
    (lane, kind), _ = item
    return _LANE_ORDER.get(lane, len(RiskLane)), _KIND_ORDER[kind]


def _percentile(ordered: Sequence[float], fraction: float) -> float | None:
    """Nearest-rank percentile of already sorted values."""
    if not ordered:
        return None
    rank = max(1, math.ceil(fraction * len(ordered)))
    return round(ordered[rank - 1], 1)
