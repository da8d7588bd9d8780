"""Decisions whose messages are in the outbox (`decisions_queued`, written in the decision's own
transaction), so that the service's start sends every decision that has none; and readings the
service could not take (`reading_quarantine`), kept with their reason instead of ending it.

Decisions stored before this revision are marked queued: they were sent (or lost) by the
release that took them, and sending them again would give their receivers a second decision.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decisions_queued",
        sa.Column(
            "decision_id",
            sa.Integer,
            sa.ForeignKey("decisions.id", ondelete="CASCADE"),
            primary_key=True,
        ),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("queued_at", sa.String(27), nullable=False),
    )
    op.execute(
        "INSERT INTO decisions_queued (decision_id, messages, queued_at)"
        " SELECT id, 0, decided_at FROM decisions WHERE kind != 'reopen'"
    )
    op.create_table(
        "reading_quarantine",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("received_at", sa.String(27), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("reading", sa.Text, nullable=False),
    )
    op.create_index("ix_reading_quarantine_received_at", "reading_quarantine", ["received_at"])


def downgrade() -> None:
    op.drop_index("ix_reading_quarantine_received_at", "reading_quarantine")
    op.drop_table("reading_quarantine")
    op.drop_table("decisions_queued")
