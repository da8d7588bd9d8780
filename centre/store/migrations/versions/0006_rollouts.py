"""Rollouts of an update to boxes in phases (centre.updates): fleet_rollouts and
fleet_rollout_boxes.

Written out (not from `centre.store.schema`): this migration creates the tables as they were on
the day it was written; `tests/centre/test_store.py` checks the two agree.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "fleet_rollouts",
        sa.Column("rollout_id", sa.String(36), primary_key=True),
        sa.Column("target", sa.String(128), nullable=False),
        sa.Column("version", sa.String(64), nullable=False),
        sa.Column("selection", sa.Text, nullable=False),
        sa.Column("phases", sa.Text, nullable=False),
        sa.Column("threshold", sa.Float, nullable=False),
        sa.Column("min_finished", sa.Integer, nullable=False),
        sa.Column("box_timeout_s", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", UtcTime, nullable=False),
        sa.Column("updated_by", sa.String(64), nullable=False),
        sa.Column("updated_at", UtcTime, nullable=False),
        sa.Column("finished_at", UtcTime, nullable=True),
    )
    op.create_index("ix_fleet_rollouts_state", "fleet_rollouts", ["state"])
    op.create_table(
        "fleet_rollout_boxes",
        sa.Column("rollout_id", sa.String(36), nullable=False),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("phase", sa.Integer, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("command_id", sa.String(36), nullable=True),
        sa.Column("updated_at", UtcTime, nullable=False),
        sa.PrimaryKeyConstraint("rollout_id", "node_id", name="pk_fleet_rollout_boxes"),
    )
    op.create_index("ix_fleet_rollout_boxes_node", "fleet_rollout_boxes", ["node_id"])


def downgrade() -> None:
    op.drop_table("fleet_rollout_boxes")
    op.drop_table("fleet_rollouts")
