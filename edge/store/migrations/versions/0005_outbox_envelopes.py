"""The outbox's signed envelopes move to their own table, `outbox_envelopes`, written once: the
`outbox` rows that change state several times a message become small, so a state change no
longer rewrites a 2 kB envelope. What an older release left in the outbox moves along, in its
queue order (the rowids of `outbox` stay as they are: the column is dropped in place).

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "outbox_envelopes",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("envelope", sa.LargeBinary, nullable=False),
    )
    op.execute("INSERT INTO outbox_envelopes (id, envelope) SELECT id, envelope FROM outbox")
    # In place (SQLite 3.35+), not by copying the table: the queue's order is the rowid's.
    op.execute("ALTER TABLE outbox DROP COLUMN envelope")


def downgrade() -> None:
    op.execute("ALTER TABLE outbox ADD COLUMN envelope BLOB NOT NULL DEFAULT x''")
    op.execute(
        "UPDATE outbox SET envelope = "
        "(SELECT envelope FROM outbox_envelopes WHERE outbox_envelopes.id = outbox.id)"
    )
    op.drop_table("outbox_envelopes")
