"""The transparency log (sync.tlog.store): its entries, tiles, checkpoints and cosignatures,
what each witness was sent, what this node witnessed of others, the alerts it raised, and the
spot checks of entries asked and owed.

Revision ID: 0012
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

TIME = sa.String(27)


def upgrade() -> None:
    op.create_table(
        "tlog_entries",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("leaf_index", sa.Integer, nullable=True, unique=True),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("party", sa.String(64), nullable=False),
        sa.Column("envelope_sha256", sa.LargeBinary(32), nullable=False),
        sa.Column("recorded_at", TIME, nullable=False),
    )
    op.create_index("ix_tlog_entries_message", "tlog_entries", ["message_id"])
    op.create_table(
        "tlog_tiles",
        sa.Column("level", sa.Integer, nullable=False),
        sa.Column("tile_index", sa.Integer, nullable=False),
        sa.Column("width", sa.Integer, nullable=False),
        sa.Column("hashes", sa.LargeBinary, nullable=False),
        sa.PrimaryKeyConstraint("level", "tile_index"),
    )
    op.create_table(
        "tlog_checkpoints",
        sa.Column("size", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("created_at", TIME, nullable=False),
    )
    op.create_index("ix_tlog_checkpoints_created", "tlog_checkpoints", ["created_at"])
    op.create_table(
        "tlog_cosignatures",
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("witness", sa.String(64), nullable=False),
        sa.Column("signature", sa.Text, nullable=False),
        sa.Column("received_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("size", "witness"),
    )
    op.create_table(
        "tlog_witness_sent",
        sa.Column("witness", sa.String(64), primary_key=True),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sent_at", TIME, nullable=False),
    )
    op.create_table(
        "tlog_witnessed",
        sa.Column("log_node", sa.String(64), nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("source", sa.String(64), nullable=False),
        sa.Column("seen_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("log_node", "size", "source"),
    )
    op.create_index("ix_tlog_witnessed_seen", "tlog_witnessed", ["seen_at"])
    op.create_table(
        "tlog_alerts",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("detected_at", TIME, nullable=False),
        sa.Column("log_node", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("evidence", sa.Text, nullable=False),
        sa.Column("reported_by", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
    )
    op.create_index("ix_tlog_alerts_detected", "tlog_alerts", ["detected_at"])
    op.create_table(
        "tlog_audits",
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("role", sa.String(8), nullable=False),
        sa.Column("asked_at_size", sa.Integer, nullable=False),
        sa.Column("requested_at", TIME, nullable=False),
        sa.PrimaryKeyConstraint("peer", "message_id", "role"),
    )


def downgrade() -> None:
    for table in (
        "tlog_audits", "tlog_alerts", "tlog_witnessed", "tlog_witness_sent", "tlog_cosignatures",
        "tlog_checkpoints", "tlog_tiles", "tlog_entries",
    ):  # fmt: skip
        op.drop_table(table)
