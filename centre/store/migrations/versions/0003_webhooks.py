"""Webhooks to the CIS: one row per configured target, holding the last event the CIS
accepted (the feed's cursor) and the state of its retries.

Written out (not from `centre.store.schema`): this migration creates the table as it was on
the day it was written; `tests/centre/test_store.py` checks the two agree.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "cis_webhook_cursors",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("cursor", sa.BigInteger, nullable=False),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("next_attempt_at", UtcTime, nullable=True),
        sa.Column("last_error", sa.String(200), nullable=True),
        sa.Column("updated_at", UtcTime, nullable=False),
    )


def downgrade() -> None:
    op.drop_table("cis_webhook_cursors")
