"""How long sync's tables keep their rows; the service's periodic purge calls
`purge_sync_tables`.

- outbox (and its signed envelopes): a message its receiver has not confirmed is never deleted,
  whatever its age (pending, in flight, taken by the broker, refused). Delivered evidence and
  operational messages stay `evidence_days`; delivered, expired or dropped telemetry and acks
  (which prove nothing) `events_days`.
- inbox dedupe rows (`inbox_applied`): `dedupe_days`, never fewer than `MIN_DEDUPE_DAYS`;
  those of telemetry-class types (a centre takes 2,880 health reports a day from each box)
  only as long as such a message can still be taken (`TELEMETRY_DEDUPE`): an older copy is
  refused as expired whatever this table says.
- quarantine, with its raw bytes: `quarantine_days`.
- events of other nodes (`peer_events`): `events_days`.

Deletes go in chunks, each its own transaction, so a first purge of a year's rows does not hold
the store's write lock for long.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator

from sqlalchemy import Connection, Engine, delete, func, insert, select, update

from edge.logs import log_event
from edge.store.schema import outbox, outbox_envelopes, peer_events, sync_counters
from edge.timeutil import format_utc
from sync.dialect import sync_sql
from sync.envelope import CLOCK_SKEW
from sync.inbox import DEFAULT_MAX_AGE
from sync.messages import TELEMETRY_TYPES, Priority
from sync.outbox import RANK
from sync.transport import SESSION_EXPIRY_S

log = logging.getLogger(__name__)

# A dedupe row must outlive every copy of its message that can still arrive: the broker keeps
# our session's queue up to SESSION_EXPIRY_S while we are offline, and the sender redelivers
# until our ack reaches it; an operational message older than its max age (14 days) is refused
# as expired whatever this table says. Past the longer of the two, no copy of those is applied
# twice. (Evidence has no max age: a copy found on an old USB stick after its row went would be
# applied again, so keep dedupe rows well beyond how long a bundle may travel.)
MIN_DEDUPE_DAYS = (
    max(DEFAULT_MAX_AGE[Priority.OPERATIONAL], dt.timedelta(seconds=SESSION_EXPIRY_S)) + CLOCK_SKEW
).days + 1

CHUNK = 5000
# A telemetry-class message older than its max age is refused as expired: its dedupe row is
# needed no longer than that (and the clock skew the inbox allows).
TELEMETRY_DEDUPE = DEFAULT_MAX_AGE[Priority.TELEMETRY] + CLOCK_SKEW
_TELEMETRY_TYPES = "type IN ({})".format(", ".join(f"'{t}'" for t in sorted(TELEMETRY_TYPES)))
_FINAL = ("delivered", "dropped", "expired")  # the receiver (or the broker, for acks) has it
_SHORT_LIVED = (
    f"(rank = {RANK[Priority.TELEMETRY]} OR type = 'ack')"  # telemetry and acks: proof of nothing
)


def purge_sync_tables(
    engine: Engine,
    *,
    now: dt.datetime,
    evidence_days: int,
    dedupe_days: int,
    quarantine_days: int,
    events_days: int,
) -> dict[str, int]:
    """Delete what sync's tables no longer need to keep at `now`; rows deleted, per table."""
    deleted = dict.fromkeys(SYNC_TABLES, 0)
    for table, count in purge_sync_batches(
        engine,
        now=now,
        evidence_days=evidence_days,
        dedupe_days=dedupe_days,
        quarantine_days=quarantine_days,
        events_days=events_days,
    ):
        deleted[table] += count
    log_purged(deleted)
    return deleted


SYNC_TABLES = ("outbox_envelopes", "outbox", "inbox_applied", "quarantine", "peer_events")


def log_purged(deleted: dict[str, int]) -> None:
    if any(deleted.values()):
        counts = " ".join(f"{table}={n}" for table, n in deleted.items())
        log_event(log, logging.INFO, "sync.retention.purged", deleted=counts)


def purge_sync_batches(
    engine: Engine,
    *,
    now: dt.datetime,
    evidence_days: int,
    dedupe_days: int,
    quarantine_days: int,
    events_days: int,
) -> Iterator[tuple[str, int]]:
    """`purge_sync_tables` one transaction at a time: each step deletes one chunk and yields
    (table, rows deleted), so that a caller can run each step as its own store job."""
    if dedupe_days < MIN_DEDUPE_DAYS:
        log_event(
            log, logging.WARNING, "sync.retention.dedupe_raised", asked=dedupe_days,
            kept=MIN_DEDUPE_DAYS,
        )  # fmt: skip
        dedupe_days = MIN_DEDUPE_DAYS

    def before(days: int) -> str:
        return format_utc(now - dt.timedelta(days=days))

    sql = sync_sql(engine)
    final = ", ".join(f"'{state}'" for state in _FINAL)
    kept_long = f"state IN ({final}) AND NOT {_SHORT_LIVED} AND created_at < ?"
    kept_short = f"state IN ({final}) AND {_SHORT_LIVED} AND created_at < ?"
    outbox_done = sql.render(
        f"SELECT id FROM outbox WHERE ({kept_long}) OR ({kept_short}) LIMIT {CHUNK}"
    )
    delete_envelopes = sql.render("DELETE FROM outbox_envelopes WHERE id {any}")
    delete_messages = sql.render("DELETE FROM outbox WHERE id {any}")
    times = (before(evidence_days), before(events_days))
    while True:  # the outbox and its envelopes together
        with engine.begin() as conn:
            ids = conn.exec_driver_sql(outbox_done, times).scalars().all()
            if not ids:
                break
            listed = (sql.listed(ids),)
            envelopes = conn.exec_driver_sql(delete_envelopes, listed).rowcount
            rows = conn.exec_driver_sql(delete_messages, listed).rowcount
        yield "outbox_envelopes", envelopes
        yield "outbox", rows
    telemetry = sql.delete_older("inbox_applied", "applied_at", CHUNK, _TELEMETRY_TYPES)
    yield from _delete_older(engine, "inbox_applied", telemetry, format_utc(now - TELEMETRY_DEDUPE))
    for table, column, days in (
        ("inbox_applied", "applied_at", dedupe_days),
        ("quarantine", "received_at", quarantine_days),
        ("peer_events", "created_at", events_days),
    ):
        statement = sql.delete_older(table, column, CHUNK)
        yield from _delete_older(engine, table, statement, before(days))


def _delete_older(
    engine: Engine, table: str, delete_chunk: str, cutoff: str
) -> Iterator[tuple[str, int]]:
    while True:
        with engine.begin() as conn:
            count = conn.exec_driver_sql(delete_chunk, (cutoff,)).rowcount
        yield table, count
        if count < CHUNK:
            return


_TELEMETRY_RANK = RANK[Priority.TELEMETRY]
# What waits or is on its way, as the outbox's own telemetry cap drops it.
_SHEDDABLE_STATES = ("pending", "inflight")


def shed_telemetry(engine: Engine) -> int:
    """Drop the telemetry waiting in the outbox and the telemetry received from other nodes,
    for a disk running short; how many rows. The outbox's drops are counted per peer
    (`dropped.telemetry`, as its cap counts them) and show in `sync status`."""
    waiting = (outbox.c.rank == _TELEMETRY_RANK) & outbox.c.state.in_(_SHEDDABLE_STATES)
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
