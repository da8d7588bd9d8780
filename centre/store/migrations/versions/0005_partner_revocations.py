"""Partner countries' revoked boxes, as their centres told this one (fleet_partner_revocations).

Written out (not from `centre.store.schema`): this migration creates the table as it was on the
day it was written; `tests/centre/test_store.py` checks the two agree.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_partner_revocations",
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("serial", sa.String(40), nullable=False),
        sa.Column("key_fingerprint", sa.String(64), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("certificate_not_after", UtcTime, nullable=False),
        sa.Column("revoked_at", UtcTime, nullable=False),
        sa.Column("received_from", sa.String(64), nullable=False),
        sa.Column("received_at", UtcTime, nullable=False),
        sa.PrimaryKeyConstraint("country", "serial", name="pk_fleet_partner_revocations"),
    )
    op.create_index(
        "ix_fleet_partner_revocations_not_after",
        "fleet_partner_revocations",
        ["certificate_not_after"],
    )


def downgrade() -> None:
    op.drop_table("fleet_partner_revocations")
