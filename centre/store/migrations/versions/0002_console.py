"""The operators' console and the SIE review queue: operators, their sessions, the audit of
their actions, and the partner records held for review.

Written out table by table (not from `centre.store.schema`): this migration creates these
tables as they were on the day it was written, whatever the schema module says later;
`tests/centre/test_console_store.py` checks the two agree.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SERIAL = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "console_operators",
        sa.Column("login", sa.String(64), primary_key=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("password_hash", sa.String(128), nullable=False),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("language", sa.String(8), nullable=False),
        sa.Column("created_at", UtcTime, nullable=False),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("login", sa.String(64), nullable=False),
        sa.Column("created_at", UtcTime, nullable=False),
        sa.Column("last_seen_at", UtcTime, nullable=False),
        sa.Column("expires_at", UtcTime, nullable=False),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "console_audit",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("at", UtcTime, nullable=False),
        sa.Column("operator", sa.String(64), nullable=False),
        sa.Column("action", sa.String(32), nullable=False),
        sa.Column("item", sa.String(200), nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("outcome", sa.String(300), nullable=False),
    )
    op.create_index("ix_console_audit_at", "console_audit", ["at"])
    op.create_index("ix_console_audit_item", "console_audit", ["item", "id"])
    op.create_table(
        "partner_review",
        sa.Column("id", SERIAL, primary_key=True),
        sa.Column("partner", sa.String(64), nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("received_at", UtcTime, nullable=False),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(35), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("decided_at", UtcTime, nullable=True),
        sa.UniqueConstraint("message_id", name="uq_partner_review_message_id"),
    )
    op.create_index("ix_partner_review_state", "partner_review", ["state", "id"])
    op.create_index("ix_partner_review_record", "partner_review", ["issuer", "ref"])


def downgrade() -> None:
    for table in ("partner_review", "console_audit", "console_sessions", "console_operators"):
        op.drop_table(table)
