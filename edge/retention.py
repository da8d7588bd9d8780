"""Retention of the core's tables: arrivals, their readings, decisions; and shedding telemetry.

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

from sqlalchemy import Connection, Engine, delete, exists, func, insert, select, update

from edge.store.schema import (
    arrival_readings,
    arrivals,
    decisions,
    manual_matches,
    outbox,
    outbox_envelopes,
    peer_events,
    sync_counters,
)

BATCH = 500
TELEMETRY_RANK = 2  # the outbox's rank of telemetry (sync.outbox.RANK)
# What waits or is on its way, as the outbox's own telemetry cap drops it.
_SHEDDABLE_STATES = ("pending", "inflight")


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


ARRIVAL_TABLES = ("arrivals", "arrival_readings", "decisions", "manual_matches")


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
        "arrivals": conn.execute(delete(arrivals).where(arrivals.c.id.in_(ids))),
    }
    return {table: result.rowcount for table, result in gone.items()} | {
        "arrival_readings": readings
    }


def shed_telemetry(engine: Engine) -> int:
    """Drop the telemetry waiting in the outbox and the telemetry received from other nodes,
    for a disk running short; how many rows. The outbox's drops are counted per peer
    (`dropped.telemetry`, as its cap counts them) and show in `sync status`."""
    waiting = (outbox.c.rank == TELEMETRY_RANK) & outbox.c.state.in_(_SHEDDABLE_STATES)
    with engine.begin() as conn:
        per_peer = conn.execute(
            select(outbox.c.peer, func.count()).where(waiting).group_by(outbox.c.peer)
        ).all()
        conn.execute(
            delete(outbox_envelopes).where(
                outbox_envelopes.c.id.in_(select(outbox.c.id).where(waiting))
            )
        )
        dropped = conn.execute(delete(outbox).where(waiting)).rowcount
        for peer, count in per_peer:
            _count(conn, peer, "dropped.telemetry", count)
        received = conn.execute(delete(peer_events).where(peer_events.c.type == "telemetry"))
    return dropped + received.rowcount


def _count(conn: Connection, peer: str, name: str, amount: int) -> None:
    where = (sync_counters.c.peer == peer) & (sync_counters.c.name == name)
    changed = conn.execute(
        update(sync_counters).where(where).values(value=sync_counters.c.value + amount)
    ).rowcount
    if not changed:
        conn.execute(insert(sync_counters).values(peer=peer, name=name, value=amount))
