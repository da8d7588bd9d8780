"""Retention of the core's tables: arrivals, their readings, decisions, their selectivity
and inspection results.

Evidence is a decision and the arrival (with its readings and records attached by hand) it was
taken on: kept `evidence_days` from the arrival's latest decision, never less than the legal
minimum (`edge.config.EVIDENCE_LEGAL_MINIMUM_DAYS`, checked where the config is read). An
arrival nobody decided on is kept `undecided_arrival_days` from its closing. An open arrival
is never purged. Deletes go in batches, each its own transaction, so the store thread that
runs them stays free for the lanes between two.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence

from sqlalchemy import Connection, Engine, delete, exists, func, select

from edge.store.schema import (
    arrival_readings,
    arrivals,
    decisions,
    inspection_results,
    manual_matches,
    risk_arrivals,
)

BATCH = 500


def purge_arrivals(
    engine: Engine, *, now: dt.datetime, evidence_days: int, undecided_days: int
) -> dict[str, int]:
    """Delete decided arrivals past `evidence_days` (from their latest decision) and undecided
    closed ones past `undecided_days` (from their closing), with their readings, decisions and
    manual matches; how many rows of each went."""
    counts = dict.fromkeys(ARRIVAL_TABLES, 0)
    for batch in purge_arrivals_batches(
        engine, now=now, evidence_days=evidence_days, undecided_days=undecided_days
    ):
        for table, count in batch.items():
            counts[table] += count
    return counts


ARRIVAL_TABLES = (
    "arrivals", "arrival_readings", "decisions", "manual_matches", "risk_arrivals",
    "inspection_results",
)  # fmt: skip


def purge_arrivals_batches(
    engine: Engine, *, now: dt.datetime, evidence_days: int, undecided_days: int
) -> Iterator[dict[str, int]]:
    """`purge_arrivals` one transaction at a time: each step deletes one batch and yields its
    counts, so that a caller can run each step as its own job on the store thread."""
    evidence_cutoff = now - dt.timedelta(days=evidence_days)
    # Only arrivals with a decision past the cutoff can qualify: the index on decided_at
    # finds them without reading every decision.
    old = select(decisions.c.arrival_id).where(decisions.c.decided_at < evidence_cutoff)
    latest = (
        select(decisions.c.arrival_id)
        .where(decisions.c.arrival_id.in_(old))
        .group_by(decisions.c.arrival_id)
        .having(func.max(decisions.c.decided_at) < evidence_cutoff)
    )
    decided = select(arrivals.c.id).where(
        arrivals.c.closed_at.is_not(None), arrivals.c.id.in_(latest)
    )
    undecided = select(arrivals.c.id).where(
        arrivals.c.closed_at < now - dt.timedelta(days=undecided_days),
        ~exists().where(decisions.c.arrival_id == arrivals.c.id),
    )
    for query in (decided, undecided):
        while True:
            with engine.begin() as conn:
                ids = list(conn.execute(query.order_by(arrivals.c.id).limit(BATCH)).scalars())
                if not ids:
                    break
                gone = _delete_arrivals(conn, ids)
            yield gone


def _delete_arrivals(conn: Connection, ids: Sequence[int]) -> dict[str, int]:
    # Readings go with their arrival (ON DELETE CASCADE), and so does what refers to a decision.
    readings = conn.execute(
        select(func.count()).where(arrival_readings.c.arrival_id.in_(ids))
    ).scalar_one()
    gone = {
        "decisions": conn.execute(delete(decisions).where(decisions.c.arrival_id.in_(ids))),
        "manual_matches": conn.execute(
            delete(manual_matches).where(manual_matches.c.arrival_id.in_(ids))
        ),
        # the arrival's selectivity and what its checks found (edge.risk_profiles)
        "risk_arrivals": conn.execute(
            delete(risk_arrivals).where(risk_arrivals.c.arrival_id.in_(ids))
        ),
        "inspection_results": conn.execute(
            delete(inspection_results).where(inspection_results.c.arrival_id.in_(ids))
        ),
        "arrivals": conn.execute(delete(arrivals).where(arrivals.c.id.in_(ids))),
    }
    return {table: result.rowcount for table, result in gone.items()} | {
        "arrival_readings": readings
    }
