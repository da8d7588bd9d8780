"""The e-manifest cache: records, their plates and their seals.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "manifests",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("issuer", sa.String(64), nullable=False),
        sa.Column("ref", sa.String(35), nullable=False),
        sa.Column("version", sa.Integer, nullable=False),
        sa.Column("expected_arrival", sa.String(27), nullable=False),
        sa.Column("driver_document", sa.String(20), nullable=True),
        sa.Column("record", sa.Text, nullable=False),
        sa.Column("stored_at", sa.String(27), nullable=False),
        sa.UniqueConstraint("ref", "issuer", name="uq_manifests_ref_issuer"),
    )
    op.create_index("ix_manifests_expected_arrival", "manifests", ["expected_arrival"])
    op.create_index("ix_manifests_driver_document", "manifests", ["driver_document"])
    op.create_table(
        "manifest_plates",
        sa.Column(
            "manifest_id",
            sa.Integer,
            sa.ForeignKey("manifests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("plate", sa.String(64), nullable=False),
        sa.Column("retrieval_key", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("manifest_id", "position"),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "manifest_seals",
        sa.Column(
            "manifest_id",
            sa.Integer,
            sa.ForeignKey("manifests.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("position", sa.Integer, nullable=False),
        sa.Column("seal_id", sa.String(64), nullable=False),
        sa.PrimaryKeyConstraint("manifest_id", "position"),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_manifest_seals_seal", "manifest_seals", ["seal_id"])


def downgrade() -> None:
    op.drop_table("manifest_seals")
    op.drop_table("manifest_plates")
    op.drop_table("manifests")
