"""Fleet management: boxes and their enrolment, twins, health (latest and downsampled
history), alerts and commands.

Written out (not from `centre.store.schema`): this migration creates the tables as they were on
the day it was written; `tests/centre/test_store.py` checks the two agree.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

from edge.store.schema import UtcTime

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

Serial = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "fleet_boxes",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("serial", sa.String(64), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("enrolment_code", sa.String(16), nullable=True),
        sa.Column("csr", sa.Text, nullable=True),
        sa.Column("certificate", sa.Text, nullable=True),
        sa.Column("certificate_serial", sa.String(40), nullable=True),
        sa.Column("certificate_not_after", UtcTime, nullable=True),
        sa.Column("requested_at", UtcTime, nullable=True),
        sa.Column("decided_by", sa.String(64), nullable=True),
        sa.Column("decided_at", UtcTime, nullable=True),
        sa.Column("reason", sa.Text, nullable=True),
        sa.Column("created_at", UtcTime, nullable=False),
        sa.UniqueConstraint("serial", name="uq_fleet_boxes_serial"),
    )
    op.create_index("ix_fleet_boxes_state", "fleet_boxes", ["state"])
    op.create_table(
        "fleet_twins",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("desired_version", sa.BigInteger, nullable=False),
        sa.Column("desired", sa.Text, nullable=False),
        sa.Column("desired_by", sa.String(64), nullable=True),
        sa.Column("desired_at", UtcTime, nullable=True),
        sa.Column("grace_s", sa.Integer, nullable=False),
        sa.Column("reported_desired_version", sa.BigInteger, nullable=False),
        sa.Column("reported_state", sa.String(16), nullable=True),
        sa.Column("applied_version", sa.BigInteger, nullable=False),
        sa.Column("reported", sa.Text, nullable=True),
        sa.Column("reported_at", UtcTime, nullable=True),
    )
    op.create_table(
        "fleet_health",
        sa.Column("node_id", sa.String(64), primary_key=True),
        sa.Column("at", UtcTime, nullable=False),
        sa.Column("received_at", UtcTime, nullable=False),
        sa.Column("colour", sa.String(8), nullable=False),
        sa.Column("report", sa.Text, nullable=False),
    )
    op.create_table(
        "fleet_health_history",
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("resolution_s", sa.Integer, nullable=False),
        sa.Column("bucket", UtcTime, nullable=False),
        sa.Column("samples", sa.Integer, nullable=False),
        sa.Column("metrics", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint(
            "node_id", "resolution_s", "bucket", name="pk_fleet_health_history"
        ),
    )
    op.create_index(
        "ix_fleet_health_history_bucket", "fleet_health_history", ["resolution_s", "bucket"]
    )
    op.create_table(
        "fleet_alerts",
        sa.Column("id", Serial, primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("kind", sa.String(32), nullable=False),
        sa.Column("subject", sa.String(64), nullable=False),
        sa.Column("reason", sa.String(300), nullable=False),
        sa.Column("raised_at", UtcTime, nullable=False),
        sa.Column("cleared_at", UtcTime, nullable=True),
        sa.Column("notified_at", UtcTime, nullable=True),
    )
    op.create_index("ix_fleet_alerts_open", "fleet_alerts", ["cleared_at", "node_id"])
    op.create_index("ix_fleet_alerts_node", "fleet_alerts", ["node_id", "id"])
    op.create_table(
        "fleet_commands",
        sa.Column("command_id", sa.String(36), primary_key=True),
        sa.Column("node_id", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("issued_at", UtcTime, nullable=False),
        sa.Column("expires_at", UtcTime, nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("output", sa.Text, nullable=True),
        sa.Column("attachment", sa.Text, nullable=True),
        sa.Column("finished_at", UtcTime, nullable=True),
    )
    op.create_index("ix_fleet_commands_node", "fleet_commands", ["node_id", "issued_at"])


def downgrade() -> None:
    for table in (
        "fleet_commands",
        "fleet_alerts",
        "fleet_health_history",
        "fleet_health",
        "fleet_twins",
        "fleet_boxes",
    ):
        op.drop_table(table)
