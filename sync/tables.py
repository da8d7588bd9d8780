"""The tables the outbox, the inbox and their retention use, as `edge.store.schema` defines
them: what a store must hold for `sync.outbox.Outbox` and `sync.inbox.Inbox` to run on it.

The box's store gets them through its alembic migrations (SQLite only). A centre on PostgreSQL
creates them with its own migration, or, in tests, with
`metadata.create_all(engine, tables=SYNC_TABLES)`.

(`sync.retention.SYNC_TABLES` is another thing: the names its purge reports counts under.)
"""

from __future__ import annotations

from sqlalchemy import Table

from edge.store.schema import (
    TLOG_TABLES,
    inbox_applied,
    inbox_parked,
    outbox,
    outbox_envelopes,
    peer_events,
    quarantine,
    stream_positions,
    stream_sequences,
    sync_counters,
)

SYNC_TABLES: tuple[Table, ...] = (
    # the sender's side
    outbox,
    outbox_envelopes,
    stream_sequences,
    sync_counters,
    # the receiver's side
    inbox_applied,
    stream_positions,
    inbox_parked,
    quarantine,
    peer_events,  # what `sync.apply.record_events` keeps of other nodes' events
    # the transparency log (sync.tlog.store)
    *TLOG_TABLES,
)
