"""The outbox keeps why the broker refused a message and when it is tried again: `refusals`
(how many times), `refusal` (the broker's last reason code and name) and `retry_at`. A refused
message is no longer parked for ever: it goes again after a backoff, and what is refused shows
in `sync status` and at the kiosk with its reason.

Revision ID: 0008
Revises: 0007
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # In place (ALTER TABLE ADD COLUMN), not by copying the table: the queue's order is the
    # rowid's.
    op.add_column("outbox", sa.Column("refusals", sa.Integer, nullable=False, server_default="0"))
    op.add_column("outbox", sa.Column("refusal", sa.String(120), nullable=True))
    op.add_column("outbox", sa.Column("retry_at", sa.String(27), nullable=True))
    # What an older release parked for ever is tried again now, its reason unknown.
    op.execute(
        "UPDATE outbox SET refusals = 1, refusal = 'refused before this release'"
        " WHERE state = 'refused'"
    )


def downgrade() -> None:
    op.drop_column("outbox", "retry_at")
    op.drop_column("outbox", "refusal")
    op.drop_column("outbox", "refusals")
