"""The centre's first schema: the CIS's records, their history and routes, the boxes' events
for the CIS, the drop directory's files; and the sync tables it shares with the box.

The sync tables are created from `edge.store.schema`'s definitions as they stand, so the
centre's outbox and inbox are the box's; `tests/centre/test_store.py` checks that a migrated
centre has exactly the columns the code declares (the sync tables' and the centre's own), so a
change to either needs a centre migration too.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from centre.store.sync_tables import SYNC_TABLE_NAMES
from edge.store import schema as edge_schema

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

SYNC_TABLES = tuple(edge_schema.metadata.tables[name] for name in SYNC_TABLE_NAMES)


# BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER aliases the rowid there).
SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TIME = sa.String(27)  # edge.store.schema.UtcTime: fixed-width ISO 8601 text


def upgrade() -> None:
    bind = op.get_bind()
    edge_schema.metadata.create_all(bind, tables=list(SYNC_TABLES))
    op.create_table(
        "cis_records",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(35), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("updated_at", TIME, nullable=False),
        sa.UniqueConstraint("issuer", "ref", name="uq_cis_records_issuer_ref"),
    )
    op.create_index("ix_cis_records_updated_at", "cis_records", ["updated_at"])
    op.create_table(
        "cis_record_history",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(35), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("detail", sa.String(300), nullable=False),
        sa.Column("at", TIME, nullable=False),
    )
    op.create_index("ix_cis_record_history_record", "cis_record_history", ["issuer", "ref", "id"])
    op.create_index("ix_cis_record_history_at", "cis_record_history", ["at"])
    op.create_table(
        "cis_record_routes",
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(35), nullable=False),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("issuer", "ref", "node"),
    )
    op.create_table(
        "cis_events",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("message_id", sa.String(36), nullable=False, unique=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("created_at", TIME, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_cis_events_received_at", "cis_events", ["received_at"])
    op.create_table(
        "cis_drop_files",
        sa.Column("sha256", sa.String(64), primary_key=True),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("taken_at", TIME, nullable=False),
    )
    op.create_index("ix_cis_drop_files_taken_at", "cis_drop_files", ["taken_at"])


def downgrade() -> None:
    for table in (
        "cis_drop_files",
        "cis_events",
        "cis_record_routes",
        "cis_record_history",
        "cis_records",
    ):
        op.drop_table(table)
    edge_schema.metadata.drop_all(op.get_bind(), tables=list(SYNC_TABLES))
