"""The kiosk: officers (PINs as Argon2 hashes), their decisions on arrivals (rows only ever
added; a reopening is a row too), and the records officers attached to trucks by hand.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "officers",
        sa.Column("id", sa.String(32), primary_key=True),
        sa.Column("name", sa.String(128), nullable=False),
        sa.Column("badge", sa.String(64), nullable=True),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("language", sa.String(16), nullable=False),
        sa.Column("pin_hash", sa.String(128), nullable=False),
        sa.Column("active", sa.Integer, nullable=False),
        sa.Column("created_at", sa.String(27), nullable=False),
        sa.UniqueConstraint("badge", name="uq_officers_badge"),
    )
    op.create_table(
        "decisions",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("arrival_id", sa.Integer, sa.ForeignKey("arrivals.id"), nullable=False),
        sa.Column("officer_id", sa.String(32), sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("kind", sa.String(24), nullable=False),
        sa.Column("reason", sa.String(48), nullable=False),
        sa.Column("note", sa.Text, nullable=True),
        sa.Column("manifest_issuer", sa.String(64), nullable=True),
        sa.Column("manifest_ref", sa.String(35), nullable=True),
        sa.Column("risk_lane", sa.String(8), nullable=True),
        sa.Column("override", sa.Integer, nullable=False),
        sa.Column("decided_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_decisions_arrival", "decisions", ["arrival_id", "id"])
    op.create_index("ix_decisions_decided_at", "decisions", ["decided_at"])
    op.create_table(
        "manual_matches",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("arrival_id", sa.Integer, sa.ForeignKey("arrivals.id"), nullable=False),
        sa.Column("officer_id", sa.String(32), sa.ForeignKey("officers.id"), nullable=False),
        sa.Column("manifest_issuer", sa.String(64), nullable=False),
        sa.Column("manifest_ref", sa.String(35), nullable=False),
        sa.Column("attached_at", sa.String(27), nullable=False),
    )
    op.create_index("ix_manual_matches_arrival", "manual_matches", ["arrival_id", "id"])


def downgrade() -> None:
    op.drop_table("manual_matches")
    op.drop_table("decisions")
    op.drop_table("officers")
