"""The transparency log's tables (sync.tlog.store), beside the other sync tables.

Like the sync tables of 0001 they are created from `edge.store.schema`'s definitions, and only
where missing: a centre created at 0001 after they were declared already has them.

Revision ID: 0007
Revises: 0006
"""

from alembic import op

from edge.store.schema import TLOG_TABLES, metadata

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    metadata.create_all(op.get_bind(), tables=list(TLOG_TABLES), checkfirst=True)


def downgrade() -> None:
    metadata.drop_all(op.get_bind(), tables=list(TLOG_TABLES), checkfirst=True)
