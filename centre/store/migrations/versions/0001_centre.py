"""The centre's first schema: the CIS's records, their history and routes, the boxes' events
for the CIS, the drop directory's files; and the sync tables it shares with the box.

The sync tables are created from `edge.store.schema`'s definitions as they stand, so the
centre's outbox and inbox are the box's; `tests/centre/test_store.py` checks that a migrated
centre still has exactly those columns, so a change to them needs a centre migration too.

Revision ID: 0001
Revises:
"""

from alembic import op

from centre.store import schema
from edge.store import schema as edge_schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SYNC_TABLES = (
    edge_schema.outbox,
    edge_schema.outbox_envelopes,
    edge_schema.stream_sequences,
    edge_schema.inbox_applied,
    edge_schema.stream_positions,
    edge_schema.inbox_parked,
    edge_schema.quarantine,
    edge_schema.sync_counters,
    edge_schema.peer_events,
)


def upgrade() -> None:
    bind = op.get_bind()
    edge_schema.metadata.create_all(bind, tables=list(SYNC_TABLES))
    schema.metadata.create_all(bind)


def downgrade() -> None:
    bind = op.get_bind()
    schema.metadata.drop_all(bind)
    edge_schema.metadata.drop_all(bind, tables=list(SYNC_TABLES))
