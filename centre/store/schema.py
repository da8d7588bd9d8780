"""The centre's own tables (SQLAlchemy Core). The sync tables it shares with the box (outbox,
inbox, quarantine) are `edge.store.schema`'s, created by the centre's first migration.
Changes go through a migration in `centre/store/migrations`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    UniqueConstraint,
)

from edge.store.schema import UtcTime

metadata = MetaData()

# A growing id: BIGINT on PostgreSQL, INTEGER on SQLite (only INTEGER aliases the rowid there).
Serial = BigInteger().with_variant(Integer(), "sqlite")

# The CIS's records as the centre holds them: the latest version of each (issuer, ref).
records = Table(
    "cis_records",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("issuer", String(64), nullable=False),
    Column("ref", String(35), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("state", String(16), nullable=False),  # active, cancelled
    Column("record", Text, nullable=False),  # the record in contract JSON
    Column("source", String(200), nullable=False),  # api:<client>, drop:<file>
    Column("received_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    UniqueConstraint("issuer", "ref", name="uq_cis_records_issuer_ref"),
    Index("ix_cis_records_updated_at", "updated_at"),
)

# What each record did, in order: the trace of a record from the CIS through the boxes.
record_history = Table(
    "cis_record_history",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("issuer", String(64), nullable=False),
    Column("ref", String(35), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("action", String(16), nullable=False),  # submitted, amended, cancelled, routed, ...
    Column("detail", String(300), nullable=False),
    Column("at", UtcTime, nullable=False),
    Index("ix_cis_record_history_record", "issuer", "ref", "id"),
    Index("ix_cis_record_history_at", "at"),
)

# Which box holds which version of a record: amendments go to the same boxes, a withdrawal to
# a box that held a record it no longer concerns.
record_routes = Table(
    "cis_record_routes",
    metadata,
    Column("issuer", String(64), nullable=False),
    Column("ref", String(35), nullable=False),
    Column("node", String(64), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("state", String(16), nullable=False),  # held, withdrawn
    Column("at", UtcTime, nullable=False),
    PrimaryKeyConstraint("issuer", "ref", "node"),
)

# The boxes' events for the CIS, in the order the centre applied them: `id` is the feed's cursor.
events = Table(
    "cis_events",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("message_id", String(36), nullable=False, unique=True),
    Column("type", String(32), nullable=False),  # arrival, decision, exit_confirmation
    Column("origin", String(64), nullable=False),
    Column("created_at", UtcTime, nullable=False),  # at the origin
    Column("received_at", UtcTime, nullable=False),
    Column("payload", Text, nullable=False),  # the message's payload in JSON
    Index("ix_cis_events_received_at", "received_at"),
)

# Files of the drop directory already taken: a file dropped twice under one name and content
# is reported, not applied twice.
drop_files = Table(
    "cis_drop_files",
    metadata,
    Column("sha256", String(64), primary_key=True),
    Column("name", String(255), nullable=False),
    Column("outcome", String(16), nullable=False),  # done, failed
    Column("taken_at", UtcTime, nullable=False),
    Index("ix_cis_drop_files_taken_at", "taken_at"),
)

# -- The operators' console (centre.console) and the SIE review queue (centre.review_queue). --
# Created by migration 0002. (`console_metadata` is the one metadata, by its older name.)
console_metadata = metadata

console_operators = Table(
    "console_operators",
    console_metadata,
    Column("login", String(64), primary_key=True),
    Column("role", String(16), nullable=False),  # operator, viewer
    Column("password_hash", String(128), nullable=False),  # Argon2id, never the password
    Column("active", Integer, nullable=False),  # 0: may no longer log in (the audit keeps it)
    Column("language", String(8), nullable=False),
    Column("created_at", UtcTime, nullable=False),
)

# The cookie's token is never stored: only its SHA-256.
console_sessions = Table(
    "console_sessions",
    console_metadata,
    Column("id", String(64), primary_key=True),
    Column("login", String(64), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("last_seen_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Index("ix_console_sessions_expires_at", "expires_at"),
)

# Every operator action: who, what, on which item, why (the reason as typed), when, and what
# came of it. Log lines name the action and the item only; the reason lives here.
console_audit = Table(
    "console_audit",
    console_metadata,
    Column("id", Serial, primary_key=True),
    Column("at", UtcTime, nullable=False),
    Column("operator", String(64), nullable=False),
    Column("action", String(32), nullable=False),  # e.g. quarantine.release, review.reject
    Column("item", String(200), nullable=False),  # e.g. quarantine:17, review:4
    Column("reason", Text, nullable=False),
    Column("outcome", String(300), nullable=False),
    Index("ix_console_audit_at", "at"),
    Index("ix_console_audit_item", "item", "id"),
)

# The SIE review queue: partner records held until an operator approves or rejects them.
partner_review = Table(
    "partner_review",
    console_metadata,
    Column("id", Serial, primary_key=True),
    Column("partner", String(64), nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("received_at", UtcTime, nullable=False),
    Column("issuer", String(64), nullable=False),
    Column("ref", String(35), nullable=False),
    Column("version", BigInteger, nullable=False),
    Column("envelope", LargeBinary, nullable=False),  # the signed envelope, as received
    Column("state", String(16), nullable=False),  # pending, approved, rejected
    Column("decided_by", String(64), nullable=True),
    Column("reason", Text, nullable=True),
    Column("decided_at", UtcTime, nullable=True),
    UniqueConstraint("message_id", name="uq_partner_review_message_id"),
    Index("ix_partner_review_state", "state", "id"),
    Index("ix_partner_review_record", "issuer", "ref"),
)

# -- Webhooks to the CIS (centre.webhooks): how far each configured target has been delivered.
# In `metadata` (migration 0001 writes its tables out, so a table here no longer leaks into it);
# migration 0003 creates this one.
webhook_cursors = Table(
    "cis_webhook_cursors",
    metadata,
    Column("name", String(64), primary_key=True),  # the [[webhooks]] entry's name
    Column("cursor", BigInteger, nullable=False),  # the last cis_events.id the CIS accepted
    Column("failures", Integer, nullable=False),  # failed attempts since the last delivery
    Column("next_attempt_at", UtcTime, nullable=True),  # none: at once
    Column("last_error", String(200), nullable=True),  # "HTTP 503", "ConnectError": no payload
    Column("updated_at", UtcTime, nullable=False),
)
