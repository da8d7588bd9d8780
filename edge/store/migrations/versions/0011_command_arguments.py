"""A command's arguments kept with it on the box (box_commands.arguments): an `update` names
its bundle's TUF target and the centre's rollout, which the agent needs when it runs it, after
the inbox's transaction.

Revision ID: 0011
Revises: 0010
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("box_commands") as batch:
        batch.add_column(sa.Column("arguments", sa.Text, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("box_commands") as batch:
        batch.drop_column("arguments")
