"""Sync: the durable outbox with per-stream sequence numbers, the inbox's applied-once table,
its stream positions and the messages parked ahead of a gap, the quarantine, counters, and
events received from other nodes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("rank", sa.Integer, nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("destination", sa.String(64), nullable=False),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("expires_at", sa.String(27), nullable=True),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("attempts", sa.Integer, nullable=False),
        sa.Column("sent_at", sa.String(27), nullable=True),
        sa.Column("acked_at", sa.String(27), nullable=True),
    )
    op.create_index("ix_outbox_queue", "outbox", ["peer", "state", "rank"])
    op.create_table(
        "stream_sequences",
        sa.Column("stream", sa.String(200), primary_key=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "inbox_applied",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("applied_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_inbox_applied_stream", "inbox_applied", ["stream", "seq"])
    op.create_table(
        "stream_positions",
        sa.Column("stream", sa.String(200), primary_key=True),
        sa.Column("last_seq", sa.Integer, nullable=False),
    )
    op.create_table(
        "inbox_parked",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("stream", sa.String(200), nullable=False),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("parked_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_inbox_parked_stream", "inbox_parked", ["stream", "seq"])
    op.create_table(
        "quarantine",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("received_at", sa.String(27), nullable=False),
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("topic", sa.String(300), nullable=False),
        sa.Column("reason", sa.String(32), nullable=False),
        sa.Column("detail", sa.Text, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=True),
        sa.Column("origin", sa.String(64), nullable=True),
        sa.Column("raw", sa.LargeBinary, nullable=False),
    )
    op.create_index("ix_quarantine_received_at", "quarantine", ["received_at"])
    op.create_table(
        "sync_counters",
        sa.Column("peer", sa.String(64), nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("value", sa.Integer, nullable=False),
        sa.PrimaryKeyConstraint("peer", "name"),
    )
    op.create_table(
        "peer_events",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("type", sa.String(32), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("payload", sa.Text, nullable=False),
    )
    op.create_index("ix_peer_events_origin", "peer_events", ["origin", "created_at"])


def downgrade() -> None:
    for table in (
        "peer_events", "sync_counters", "quarantine", "inbox_parked", "stream_positions",
        "inbox_applied",
    ):  # fmt: skip
        op.drop_table(table)
    op.drop_table("stream_sequences")
    op.drop_table("outbox")
