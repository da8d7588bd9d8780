"""Fleet management on the box: the twin versions the centre sent and what became of each
(box_twin), the commands it sent with their results (box_commands, the idempotency and audit
record) and the fleet agent's named moments (box_fleet_marks).

Revision ID: 0010
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "box_twin",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("grace_s", sa.Integer, nullable=False),
        sa.Column("received_at", sa.String(27), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.Column("restarted_at", sa.String(27), nullable=True),
        sa.Column("grace_until", sa.String(27), nullable=True),
        sa.Column("devices_before", sa.Text, nullable=False),
        sa.Column("errors", sa.Text, nullable=False),
        sa.Column("reported_state", sa.String(16), nullable=True),
    )
    op.create_index("ix_box_twin_state", "box_twin", ["state"])
    op.create_table(
        "box_commands",
        sa.Column("command_id", sa.String(36), primary_key=True),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("issued_by", sa.String(64), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("received_at", sa.String(27), nullable=False),
        sa.Column("expires_at", sa.String(27), nullable=False),
        sa.Column("state", sa.String(16), nullable=False),
        sa.Column("output", sa.Text, nullable=False),
        sa.Column("attachment", sa.Text, nullable=True),
        sa.Column("finished_at", sa.String(27), nullable=True),
    )
    op.create_index("ix_box_commands_state", "box_commands", ["state"])
    op.create_index("ix_box_commands_finished_at", "box_commands", ["finished_at"])
    op.create_table(
        "box_fleet_marks",
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("at", sa.String(27), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("box_fleet_marks")
    op.drop_table("box_commands")
    op.drop_table("box_twin")
