"""The IE assessment (centre.assessment): assessment_countries, assessment_scores,
assessment_thresholds and assessment_decisions.

Written out (not from `centre.store.schema`): this migration creates the tables as they were on
the day it was written; `tests/centre/test_store.py` checks the two agree.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "assessment_countries",
        sa.Column("country", sa.String(2), primary_key=True),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("partial", sa.Boolean, nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("entered_by", sa.String(64), nullable=False),
        sa.Column("entered_at", UtcTime, nullable=False),
    )
    op.create_table(
        "assessment_scores",
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("area", sa.String(48), nullable=False),
        sa.Column("score", sa.Integer, nullable=True),
        sa.PrimaryKeyConstraint("country", "area", name="pk_assessment_scores"),
    )
    op.create_table(
        "assessment_thresholds",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("set_by", sa.String(64), nullable=False),
        sa.Column("set_at", UtcTime, nullable=False),
    )
    op.create_table(
        "assessment_decisions",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("partner_country", sa.String(2), nullable=False),
        sa.Column("candidate", sa.String(8), nullable=False),
        sa.Column("mode", sa.String(8), nullable=False),
        sa.Column("running_mode", sa.String(8), nullable=True),
        sa.Column("reasons", sa.Text, nullable=False),
        sa.Column("thresholds", sa.Text, nullable=False),
        sa.Column("reason", sa.Text, nullable=False),
        sa.Column("decided_by", sa.String(64), nullable=False),
        sa.Column("decided_at", UtcTime, nullable=False),
    )
    op.create_index(
        "ix_assessment_decisions_partner", "assessment_decisions", ["partner_country", "id"]
    )


def downgrade() -> None:
    op.drop_table("assessment_decisions")
    op.drop_table("assessment_thresholds")
    op.drop_table("assessment_scores")
    op.drop_table("assessment_countries")
