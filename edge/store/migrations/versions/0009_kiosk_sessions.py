"""The kiosk's sessions, kept in the store so that a restart does not log officers out: the
SHA-256 of the cookie's token (never the token), the officer, and when the session was last
touched and expires (purged once past it).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kiosk_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("officer_id", sa.String(32), sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.Column("last_seen_at", sa.String(27), nullable=False),
        sa.Column("expires_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_kiosk_sessions_expires_at", "kiosk_sessions", ["expires_at"])
    op.create_index("ix_kiosk_sessions_officer", "kiosk_sessions", ["officer_id"])


def downgrade() -> None:
    op.drop_table("kiosk_sessions")
