"""The centre's own tables (SQLAlchemy Core). The sync tables it shares with the box (outbox,
inbox, quarantine) are `edge.store.schema`'s, created by the centre's first migration.
Changes go through a migration in `centre/store/migrations`."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Float,
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

# -- Fleet management (centre.fleet): the boxes of this country, their twins, health, alerts and
# commands. Created by migration 0004.

# Every box the centre knows: pre-registered by serial, asking to enrol, enrolled, refused or
# revoked. The CSR and certificate are public documents; the enrolment code is shown on the
# box's screen for the operator to compare, never a secret.
fleet_boxes = Table(
    "fleet_boxes",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("serial", String(64), nullable=False),  # the hardware serial
    Column("state", String(16), nullable=False),  # registered, pending, enrolled, refused, revoked
    Column("enrolment_code", String(16), nullable=True),  # from the box's key: XXXX-XXXX-XXXX
    Column("csr", Text, nullable=True),  # PEM, as the box sent it
    Column("certificate", Text, nullable=True),  # PEM, as the CA issued it
    Column("certificate_serial", String(40), nullable=True),  # hex
    Column("certificate_not_after", UtcTime, nullable=True),
    Column("requested_at", UtcTime, nullable=True),
    Column("decided_by", String(64), nullable=True),
    Column("decided_at", UtcTime, nullable=True),
    Column("reason", Text, nullable=True),  # why refused or revoked, as the operator typed it
    Column("created_at", UtcTime, nullable=False),
    UniqueConstraint("serial", name="uq_fleet_boxes_serial"),
    Index("ix_fleet_boxes_state", "state"),
)

# Per box: the configuration its operator wants (versioned) and what the box last reported.
fleet_twins = Table(
    "fleet_twins",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("desired_version", BigInteger, nullable=False),  # 0: nothing desired yet
    Column("desired", Text, nullable=False),  # JSON: section -> content
    Column("desired_by", String(64), nullable=True),
    Column("desired_at", UtcTime, nullable=True),
    Column("grace_s", Integer, nullable=False),
    Column("reported_desired_version", BigInteger, nullable=False),  # what the report answers
    Column("reported_state", String(16), nullable=True),  # applying, applied, rejected, ...
    Column("applied_version", BigInteger, nullable=False),
    Column("reported", Text, nullable=True),  # JSON: the last twin_reported payload
    Column("reported_at", UtcTime, nullable=True),
)

# The newest health report of each box, whole, and when it came.
fleet_health = Table(
    "fleet_health",
    metadata,
    Column("node_id", String(64), primary_key=True),
    Column("at", UtcTime, nullable=False),  # the box's time of the report
    Column("received_at", UtcTime, nullable=False),
    Column("colour", String(8), nullable=False),  # green, amber, red (grey: silent, computed)
    Column("report", Text, nullable=False),  # JSON: the health payload
)

# Health history, downsampled as it comes: one row per box, resolution and time bucket, with
# the bucket's count and per-metric sums, minima and maxima (JSON), so charts need no raw rows
# and the table stays bounded (boxes x buckets kept).
fleet_health_history = Table(
    "fleet_health_history",
    metadata,
    Column("node_id", String(64), nullable=False),
    Column("resolution_s", Integer, nullable=False),  # 300 or 3600
    Column("bucket", UtcTime, nullable=False),  # the bucket's start
    Column("samples", Integer, nullable=False),
    Column("metrics", Text, nullable=False),  # JSON: name -> [sum, min, max]
    PrimaryKeyConstraint("node_id", "resolution_s", "bucket", name="pk_fleet_health_history"),
    Index("ix_fleet_health_history_bucket", "resolution_s", "bucket"),
)

# Alerts with their reason: raised when a rule first holds, cleared when it no longer does.
fleet_alerts = Table(
    "fleet_alerts",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("node_id", String(64), nullable=False),
    Column("kind", String(32), nullable=False),  # silent, disk, device, clock, certificate, ...
    Column("subject", String(64), nullable=False),  # a device id, or "" for the box
    Column("reason", String(300), nullable=False),
    Column("raised_at", UtcTime, nullable=False),
    Column("cleared_at", UtcTime, nullable=True),
    Column("notified_at", UtcTime, nullable=True),
    Index("ix_fleet_alerts_open", "cleared_at", "node_id"),
    Index("ix_fleet_alerts_node", "node_id", "id"),
)

# Commands to boxes and what came of them.
fleet_commands = Table(
    "fleet_commands",
    metadata,
    Column("command_id", String(36), primary_key=True),
    Column("node_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("issued_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Column("state", String(16), nullable=False),  # sent, done, failed, expired, refused
    Column("output", Text, nullable=True),
    Column("attachment", Text, nullable=True),  # a diagnostics bundle, base64
    Column("finished_at", UtcTime, nullable=True),
    Index("ix_fleet_commands_node", "node_id", "issued_at"),
)

# Boxes of partner countries their own centre revoked (created by migration 0005): one row per
# certificate, checked against the trust store (issued by the CA of the sending centre's
# country) when its `revocation` came. This centre's inbox refuses them, and it told its own
# boxes. Kept until the certificate ends (it is refused as expired from then on).
fleet_partner_revocations = Table(
    "fleet_partner_revocations",
    metadata,
    Column("country", String(2), nullable=False),  # the revoked box's, the sender's
    Column("serial", String(40), nullable=False),  # hex
    Column("key_fingerprint", String(64), nullable=False),  # SHA-256 of the raw key, hex
    Column("node_id", String(64), nullable=False),  # the revoked box
    Column("certificate_not_after", UtcTime, nullable=False),
    Column("revoked_at", UtcTime, nullable=False),  # the sending centre's time
    Column("received_from", String(64), nullable=False),  # the partner centre's node id
    Column("received_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("country", "serial", name="pk_fleet_partner_revocations"),
    Index("ix_fleet_partner_revocations_not_after", "certificate_not_after"),
)

# Rollouts of an update to a selection of boxes, in phases (centre.updates, migration 0006):
# the rollout, and each box's place and progress in it. A finished rollout (done, halted,
# aborted) is kept [fleet] rollouts_days after it finished, with its boxes.
fleet_rollouts = Table(
    "fleet_rollouts",
    metadata,
    Column("rollout_id", String(36), primary_key=True),  # a UUIDv7, sent in each command
    Column("target", String(128), nullable=False),  # the bundle's TUF target name
    Column("version", String(64), nullable=False),  # the version the bundle installs
    Column("selection", Text, nullable=False),  # JSON: the node ids, in phase order
    Column("phases", Text, nullable=False),  # JSON: [{"boxes": 1}, {"percent": 10}, ...]
    Column("threshold", Float, nullable=False),  # the failure rate a phase may reach, 0..1
    Column("min_finished", Integer, nullable=False),  # finished boxes before a phase is judged
    Column("box_timeout_s", Integer, nullable=False),  # a silent box counts as failed after
    Column("state", String(16), nullable=False),  # planned|running|paused|halted|done|aborted
    Column("phase", Integer, nullable=False),  # the current phase's index
    Column("reason", Text, nullable=True),  # why it halted (or was aborted), what it came to
    Column("created_by", String(64), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("updated_by", String(64), nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    Column("finished_at", UtcTime, nullable=True),
    Index("ix_fleet_rollouts_state", "state"),
)
fleet_rollout_boxes = Table(
    "fleet_rollout_boxes",
    metadata,
    Column("rollout_id", String(36), nullable=False),
    Column("node_id", String(64), nullable=False),
    Column("phase", Integer, nullable=False),
    # queued|commanded|downloading|installing|rebooting|good|rolled_back|failed
    Column("state", String(16), nullable=False),
    Column("reason", Text, nullable=True),  # the box's, or the centre's (timed out, refused)
    Column("command_id", String(36), nullable=True),  # the update command sent to it
    Column("updated_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("rollout_id", "node_id", name="pk_fleet_rollout_boxes"),
    Index("ix_fleet_rollout_boxes_node", "node_id"),
)

# The IE assessment (centre.assessment, migration 0008): the score sheet as entered or imported
# (one row per country and area, the score in hundredths, NULL for N/A; each country's partial
# flag and place), the thresholds an operator set (the latest row counts; none: the defaults),
# and the partner link modes operators confirmed from a pair's classification, with what it
# said. A few hundred rows at most, each written by an operator's action: kept.
assessment_countries = Table(
    "assessment_countries",
    metadata,
    Column("country", String(2), primary_key=True),
    Column("position", Integer, nullable=False),  # its column in the sheet
    Column("partial", Boolean, nullable=False),
    Column("source", String(200), nullable=False),  # csv:<file name>, or form
    Column("entered_by", String(64), nullable=False),
    Column("entered_at", UtcTime, nullable=False),
)
assessment_scores = Table(
    "assessment_scores",
    metadata,
    Column("country", String(2), nullable=False),
    Column("area", String(48), nullable=False),  # centre.assessment.areas key
    Column("score", Integer, nullable=True),  # hundredths (340 = 3.4); NULL: N/A
    PrimaryKeyConstraint("country", "area", name="pk_assessment_scores"),
)
assessment_thresholds = Table(
    "assessment_thresholds",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("thresholds", Text, nullable=False),  # the TOML file as uploaded
    Column("set_by", String(64), nullable=False),
    Column("set_at", UtcTime, nullable=False),
)
assessment_decisions = Table(
    "assessment_decisions",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("partner_country", String(2), nullable=False),
    Column("candidate", String(8), nullable=False),  # the classification's: sie, cie, not_yet
    Column("mode", String(8), nullable=False),  # the mode confirmed: sie or cie
    Column("running_mode", String(8), nullable=True),  # the config's then; NULL: no link
    Column("reasons", Text, nullable=False),  # JSON: the classification's reasons, as text
    Column("thresholds", Text, nullable=False),  # JSON: the minimums it was classified with
    Column("reason", Text, nullable=False),  # the operator's
    Column("decided_by", String(64), nullable=False),
    Column("decided_at", UtcTime, nullable=False),
    Index("ix_assessment_decisions_partner", "partner_country", "id"),
)

# --- risk profiles (centre.risk_profiles; issue 18, migration 0009) -----------------------------

# Each rule set version the centre issued (console or CIS API), whole, as it was signed and sent
# to the country's boxes. The highest version is the one in force. Kept for the record.
risk_profile_sets = Table(
    "risk_profile_sets",
    metadata,
    Column("version", BigInteger, primary_key=True, autoincrement=False),
    Column("country", String(2), nullable=False),
    Column("issued_at", UtcTime, nullable=False),
    Column("issued_by", String(64), nullable=False),  # the operator's login, or api:<client>
    Column("source", String(32), nullable=False),  # form, upload:json, upload:toml, api
    Column("profiles", Integer, nullable=False),
    Column("messages", Integer, nullable=False),  # parts x boxes written to the outbox
    Column("boxes", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the RuleSet as JSON
)

# What the boxes' officers found in the checks the profiles (or the random selection) sent
# trucks to: evidence, one row per (box, result). The note is free text: kept, never logged.
risk_inspection_results = Table(
    "risk_inspection_results",
    metadata,
    Column("id", Serial, primary_key=True),
    Column("node", String(64), nullable=False),
    Column("result_id", BigInteger, nullable=False),  # the box's own id of the result
    Column("arrival_id", BigInteger, nullable=False),
    Column("message_id", String(36), nullable=False),
    Column("decision", String(24), nullable=True),
    Column("outcome", String(16), nullable=False),  # nothing_found | found
    Column("findings", Text, nullable=False),  # JSON list of codes
    Column("note", Text, nullable=True),
    Column("officer", String(64), nullable=False),
    Column("lane", String(8), nullable=False),
    Column("set_version", BigInteger, nullable=True),
    Column("random", String(8), nullable=True),
    Column("recorded_at", UtcTime, nullable=False),
    Column("received_at", UtcTime, nullable=False),
    UniqueConstraint("node", "result_id", name="uq_risk_inspection_results_node_result"),
    Index("ix_risk_inspection_results_recorded_at", "recorded_at"),
)

# The profiles that had selected each result's truck: what the hit rates count.
risk_result_profiles = Table(
    "risk_result_profiles",
    metadata,
    Column("result", BigInteger, nullable=False),  # risk_inspection_results.id
    Column("name", String(64), nullable=False),
    Column("version", BigInteger, nullable=False),
    PrimaryKeyConstraint("result", "name", name="pk_risk_result_profiles"),
    Index("ix_risk_result_profiles_name", "name", "version"),
)
