"""Arrivals at the lanes and the readings attached to them; transit document numbers of
manifests, so that a scanned document finds its record.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("manifests") as batch:
        batch.add_column(sa.Column("tir_carnet", sa.String(64), nullable=True))
        batch.add_column(sa.Column("cmr", sa.String(64), nullable=True))
    # Normalised as edge.manifest_cache.normalise_id does: upper case, letters and digits only.
    for column in ("tir_carnet", "cmr"):
        op.execute(
            f"UPDATE manifests SET {column} = upper(replace(replace(replace("
            f"json_extract(record, '$.{column}'), ' ', ''), '-', ''), '/', ''))"
        )
    op.create_index("ix_manifests_tir_carnet", "manifests", ["tir_carnet"])
    op.create_index("ix_manifests_cmr", "manifests", ["cmr"])
    op.create_table(
        "arrivals",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("lane", sa.String(32), nullable=False),
        sa.Column("opened_at", sa.String(27), nullable=False),
        sa.Column("opened_by", sa.String(32), nullable=False),
        sa.Column("updated_at", sa.String(27), nullable=False),
        sa.Column("closed_at", sa.String(27), nullable=True),
        sa.Column("close_reason", sa.String(32), nullable=True),
        sa.Column("best_ref", sa.String(35), nullable=True),
        sa.Column("best_score", sa.Float, nullable=True),
        sa.Column("match", sa.Text, nullable=True),
    )
    op.create_index("ix_arrivals_lane_open", "arrivals", ["lane", "closed_at"])
    op.create_index("ix_arrivals_opened_at", "arrivals", ["opened_at"])
    op.create_table(
        "arrival_readings",
        sa.Column(
            "arrival_id",
            sa.Integer,
            sa.ForeignKey("arrivals.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("seq", sa.Integer, nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("device", sa.String(64), nullable=False),
        sa.Column("at", sa.String(27), nullable=False),
        sa.Column("reading", sa.Text, nullable=False),
        sa.PrimaryKeyConstraint("arrival_id", "seq"),
        sqlite_with_rowid=False,
    )


def downgrade() -> None:
    op.drop_table("arrival_readings")
    op.drop_table("arrivals")
    op.drop_index("ix_manifests_cmr", "manifests")
    op.drop_index("ix_manifests_tir_carnet", "manifests")
    with op.batch_alter_table("manifests") as batch:
        batch.drop_column("cmr")
        batch.drop_column("tir_carnet")
