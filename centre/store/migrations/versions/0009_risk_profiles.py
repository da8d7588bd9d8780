"""Risk profiles at the centre (centre.risk_profiles): the rule set versions it issued
(risk_profile_sets), the boxes' inspection results (risk_inspection_results) and the profiles
that had selected each result's truck (risk_result_profiles), for the hit rates.

Written out (not from `centre.store.schema`): this migration creates the tables as they were on
the day it was written; `tests/centre/test_store.py` checks the two agree.

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "risk_profile_sets",
        sa.Column("version", sa.BigInteger, primary_key=True, autoincrement=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("issued_at", UtcTime, nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("source", sa.String(32), nullable=False),
        sa.Column("profiles", sa.Integer, nullable=False),
        sa.Column("messages", sa.Integer, nullable=False),
        sa.Column("boxes", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "risk_inspection_results",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("node", sa.String(64), nullable=False),
        sa.Column("result_id", sa.BigInteger, nullable=False),
        sa.Column("arrival_id", sa.BigInteger, nullable=False),
        sa.Column("message_id", sa.String(36), nullable=False),
        sa.Column("decision", sa.String(24), nullable=True),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("officer", sa.String(64), nullable=False),
        sa.Column("lane", sa.String(8), nullable=False),
        sa.Column("set_version", sa.BigInteger, nullable=True),
        sa.Column("random", sa.String(8), nullable=True),
        sa.Column("recorded_at", UtcTime, nullable=False),
        sa.Column("received_at", UtcTime, nullable=False),
        sa.UniqueConstraint("node", "result_id", name="uq_risk_inspection_results_node_result"),
    )
    op.create_index(
        "ix_risk_inspection_results_recorded_at", "risk_inspection_results", ["recorded_at"]
    )
    op.create_table(
        "risk_result_profiles",
        sa.Column("result", sa.BigInteger, nullable=False),
        sa.Column("name", sa.String(64), nullable=False),
        sa.Column("version", sa.BigInteger, nullable=False),
        sa.PrimaryKeyConstraint("result", "name", name="pk_risk_result_profiles"),
    )
    op.create_index("ix_risk_result_profiles_name", "risk_result_profiles", ["name", "version"])


def downgrade() -> None:
    op.drop_table("risk_result_profiles")
    op.drop_table("risk_inspection_results")
    op.drop_table("risk_profile_sets")
