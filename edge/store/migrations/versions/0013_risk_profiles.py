"""Risk profiles on the box: the centre's rule set versions (risk_profile_sets) and their parts
while they arrive (risk_profile_parts), each arrival's random draw and selection
(risk_arrivals, the truck's history at the post) and the officers' inspection results
(inspection_results).

Revision ID: 0013
Revises: 0012
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "risk_profile_sets",
        sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("country", sa.String(2), nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("issued_at", sa.String(27), nullable=False),
        sa.Column("received_at", sa.String(27), nullable=False),
        sa.Column("profiles", sa.Integer, nullable=False),
        sa.Column("body", sa.Text, nullable=False),
    )
    op.create_table(
        "risk_profile_parts",
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("part", sa.Integer, nullable=False),
        sa.Column("parts", sa.Integer, nullable=False),
        sa.Column("origin", sa.String(64), nullable=False),
        sa.Column("received_at", sa.String(27), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("version", "part"),
    )
    op.create_table(
        "risk_arrivals",
        sa.Column("arrival_id", sa.Integer, primary_key=True, autoincrement=False),
        sa.Column("truck_key", sa.String(64), nullable=True),
        sa.Column("opened_at", sa.String(27), nullable=False),
        sa.Column("draw", sa.String(8), nullable=False),
        sa.Column("set_version", sa.Integer, nullable=True),
        sa.Column("lane", sa.String(8), nullable=False),
        sa.Column("profiles", sa.Text, nullable=False),
        sa.Column("random", sa.String(8), nullable=True),
        sa.Column("updated_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_risk_arrivals_truck", "risk_arrivals", ["truck_key", "opened_at"])
    op.create_table(
        "inspection_results",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("arrival_id", sa.Integer, nullable=False),
        sa.Column("decision_id", sa.Integer, nullable=True),
        sa.Column("officer_id", sa.String(32), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("findings", sa.Text, nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("lane", sa.String(8), nullable=False),
        sa.Column("set_version", sa.Integer, nullable=True),
        sa.Column("profiles", sa.Text, nullable=False),
        sa.Column("random", sa.String(8), nullable=True),
        sa.Column("recorded_at", sa.String(27), nullable=False),
        sa.Column("queued_at", sa.String(27), nullable=True),
    )
    op.create_index("ix_inspection_results_arrival", "inspection_results", ["arrival_id"])
    op.create_index("ix_inspection_results_queued_at", "inspection_results", ["queued_at"])


def downgrade() -> None:
    op.drop_table("inspection_results")
    op.drop_table("risk_arrivals")
    op.drop_table("risk_profile_parts")
    op.drop_table("risk_profile_sets")
