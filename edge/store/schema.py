"""The tables of the local store (SQLAlchemy Core). Changes go through a migration."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    BigInteger,
    Column,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
)

from edge.timeutil import format_utc, parse_utc

# The largest integer the store holds (SQLite's INTEGER is a signed 64-bit): every model that
# feeds the store bounds its integers by it, so a larger one is refused as one bad input at the
# boundary, not found by the store, where it would end the batch it came in.
MAX_STORED_INT = 2**63 - 1


class UtcTime(TypeDecorator[dt.datetime]):
    """A UTC time stored as fixed-width ISO 8601 text, so that it sorts and reads as written."""

    impl = String(27)
    cache_ok = True

    def process_bind_param(self, value: dt.datetime | None, dialect: Dialect) -> str | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} cannot be stored; times are UTC")
        return format_utc(value)

    def process_result_value(self, value: str | None, dialect: Dialect) -> dt.datetime | None:
        return None if value is None else parse_utc(value)


# A 64-bit integer on every database: SQLite's INTEGER is one already (and only INTEGER aliases
# the rowid), PostgreSQL's INTEGER is 32-bit. The sync tables hold numbers from the wire (a
# stream's seq may be up to 2^63 - 1) and counters that grow for years: on a centre's
# PostgreSQL they are BIGINT, while the box's SQLite schema stays exactly as migrated.
Int64 = BigInteger().with_variant(Integer(), "sqlite")

metadata = MetaData()

manifests = Table(
    "manifests",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("issuer", String(64), nullable=False),
    Column("ref", String(35), nullable=False),
    Column("version", Integer, nullable=False),
    Column("expected_arrival", UtcTime, nullable=False),
    Column("driver_document", String(20), nullable=True),
    Column("record", Text, nullable=False),  # the whole record in contract JSON
    # Transit document numbers, normalised, so that a scanned document finds its record.
    Column("tir_carnet", String(64), nullable=True),
    Column("cmr", String(64), nullable=True),
    Column("stored_at", UtcTime, nullable=False),
    UniqueConstraint("ref", "issuer", name="uq_manifests_ref_issuer"),
    Index("ix_manifests_expected_arrival", "expected_arrival"),
    Index("ix_manifests_driver_document", "driver_document"),
    Index("ix_manifests_tir_carnet", "tir_carnet"),
    Index("ix_manifests_cmr", "cmr"),
)

manifest_plates = Table(
    "manifest_plates",
    metadata,
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),  # 0 the tractor, 1.. the trailers
    Column("plate", String(64), nullable=False),  # as written
    # Not indexed: lookups go through the in-memory index, which is built from this column.
    Column("retrieval_key", String(64), nullable=False),
    PrimaryKeyConstraint("manifest_id", "position"),
    sqlite_with_rowid=False,
)

manifest_seals = Table(
    "manifest_seals",
    metadata,
    Column("manifest_id", Integer, ForeignKey("manifests.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("seal_id", String(64), nullable=False),  # normalised: upper case, no separators
    PrimaryKeyConstraint("manifest_id", "position"),
    Index("ix_manifest_seals_seal", "seal_id"),
    sqlite_with_rowid=False,
)

arrivals = Table(
    "arrivals",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("lane", String(32), nullable=False),
    Column("opened_at", UtcTime, nullable=False),
    Column("opened_by", String(32), nullable=False),  # camera, manual, or the first reading's kind
    Column("updated_at", UtcTime, nullable=False),
    Column("closed_at", UtcTime, nullable=True),
    Column("close_reason", String(32), nullable=True),  # decision, timeout, manual
    Column("best_ref", String(35), nullable=True),
    Column("best_score", Float, nullable=True),
    Column("match", Text, nullable=True),  # the latest match result as JSON
    Index("ix_arrivals_lane_open", "lane", "closed_at"),
    Index("ix_arrivals_opened_at", "opened_at"),
)

arrival_readings = Table(
    "arrival_readings",
    metadata,
    Column("arrival_id", Integer, ForeignKey("arrivals.id", ondelete="CASCADE"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("kind", String(16), nullable=False),
    Column("device", String(64), nullable=False),
    Column("at", UtcTime, nullable=False),
    Column("reading", Text, nullable=False),  # the reading as JSON
    PrimaryKeyConstraint("arrival_id", "seq"),
    sqlite_with_rowid=False,
)

# -- sync: the durable outbox and inbox (sync/) ----------------------------------------------

outbox = Table(
    "outbox",
    metadata,
    Column("id", String(36), primary_key=True),  # the message id, a UUIDv7
    Column("peer", String(64), nullable=False),  # which link carries it
    Column("rank", Integer, nullable=False),  # 0 evidence, 1 operational, 2 telemetry
    Column("type", String(32), nullable=False),
    Column("destination", String(64), nullable=False),
    Column("stream", String(200), nullable=False),
    Column("seq", Int64, nullable=False),
    Column("topic", String(300), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=True),  # telemetry only
    # pending, inflight, acked (by the broker), delivered (acknowledged by the receiver),
    # dropped, expired, refused (by the broker; tried again at retry_at)
    Column("state", String(16), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("sent_at", UtcTime, nullable=True),
    Column("acked_at", UtcTime, nullable=True),
    # The broker's refusals: how many, the last reason ("0x97 Quota exceeded"), and when the
    # message (state refused) goes again.
    Column("refusals", Integer, nullable=False, server_default="0"),
    Column("refusal", String(120), nullable=True),
    Column("retry_at", UtcTime, nullable=True),
    # The queue's order is (rank, rowid): SQLite keeps the rowid in every index entry.
    Index("ix_outbox_queue", "peer", "state", "rank"),
    # PostgreSQL has no rowid: its queue order is (rank, id), UUIDv7 ids being time-ordered
    # (sync.dialect), and this index serves it without a sort of the backlog on every take.
    Index("ix_outbox_queue_order", "peer", "state", "rank", "id").ddl_if(dialect="postgresql"),
)

# The signed JWS of each outbox message, as sent: written once, never rewritten. Apart from
# `outbox`, whose small rows change state several times a message, so that a state change
# does not rewrite the envelope (SQLite rewrites a whole row on UPDATE).
outbox_envelopes = Table(
    "outbox_envelopes",
    metadata,
    Column("id", String(36), primary_key=True),  # outbox.id
    Column("envelope", LargeBinary, nullable=False),
)

stream_sequences = Table(
    "stream_sequences",
    metadata,
    Column("stream", String(200), primary_key=True),
    Column("last_seq", Int64, nullable=False),
)

inbox_applied = Table(
    "inbox_applied",
    metadata,
    Column("id", String(36), primary_key=True),  # the message id: applied once, ever
    Column("origin", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("stream", String(200), nullable=False),
    Column("seq", Int64, nullable=False),
    Column("peer", String(64), nullable=False),
    Column("applied_at", UtcTime, nullable=False),
    Index("ix_inbox_applied_stream", "stream", "seq"),
)

# The receiver's place in each ordered stream: the last seq applied.
stream_positions = Table(
    "stream_positions",
    metadata,
    Column("stream", String(200), primary_key=True),
    Column("last_seq", Int64, nullable=False),
)

# Verified messages that arrived ahead of a gap in their stream, waiting for it to fill.
inbox_parked = Table(
    "inbox_parked",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("stream", String(200), nullable=False),
    Column("seq", Int64, nullable=False),
    Column("peer", String(64), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("data", LargeBinary, nullable=False),
    Column("parked_at", UtcTime, nullable=False),
    Index("ix_inbox_parked_stream", "stream", "seq"),
)

quarantine = Table(
    "quarantine",
    metadata,
    Column("id", Int64, primary_key=True),
    Column("received_at", UtcTime, nullable=False),
    Column("peer", String(64), nullable=False),
    Column("topic", String(300), nullable=False),
    Column("reason", String(32), nullable=False),  # a stable code: bad_signature, expired, ...
    Column("detail", Text, nullable=False),
    Column("message_id", String(36), nullable=True),
    Column("origin", String(64), nullable=True),
    Column("raw", LargeBinary, nullable=False),  # kept for review, truncated when oversized
    Index("ix_quarantine_received_at", "received_at"),
)

sync_counters = Table(
    "sync_counters",
    metadata,
    Column("peer", String(64), nullable=False),
    Column("name", String(64), nullable=False),  # e.g. dropped.telemetry, expired.telemetry
    Column("value", Int64, nullable=False),
    PrimaryKeyConstraint("peer", "name"),
)

peer_events = Table(
    "peer_events",
    metadata,
    Column("id", String(36), primary_key=True),  # the message id
    Column("type", String(32), nullable=False),  # arrival, decision, telemetry from other nodes
    Column("origin", String(64), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("payload", Text, nullable=False),
    Index("ix_peer_events_origin", "origin", "created_at"),
)

# -- the transparency log (sync.tlog.store): every envelope this node signs or applies -------

# One row per logged envelope: its hash and a small index entry (the envelope stays where it
# is). Appended in the transaction that signs or applies it, with no leaf index; the log's
# integrator gives the next indices in `id` order and writes the tiles (a Trillian-style
# sequencer), so the hot path is one insert and several writers never contend for a counter.
tlog_entries = Table(
    "tlog_entries",
    metadata,
    Column("id", Int64, primary_key=True),  # the order appended: the integrator's queue
    Column("leaf_index", Int64, nullable=True, unique=True),  # none until integrated
    Column("message_id", String(36), nullable=False),
    Column("kind", String(8), nullable=False),  # signed | applied
    Column("type", String(32), nullable=False),
    Column("party", String(64), nullable=False),  # the destination signed for, or the origin
    Column("envelope_sha256", LargeBinary(32), nullable=False),
    Column("recorded_at", UtcTime, nullable=False),
    Index("ix_tlog_entries_message", "message_id"),
)

# The tree's hashes as C2SP tiles of height 8: 256 hashes of one level a row; the last tile
# of each level is partial (`width` < 256) and grows in place.
tlog_tiles = Table(
    "tlog_tiles",
    metadata,
    Column("level", Integer, nullable=False),
    Column("tile_index", Int64, nullable=False),
    Column("width", Integer, nullable=False),
    Column("hashes", LargeBinary, nullable=False),
    PrimaryKeyConstraint("level", "tile_index"),
)

# This node's signed checkpoints (a C2SP signed note each), kept for the legal retention.
tlog_checkpoints = Table(
    "tlog_checkpoints",
    metadata,
    Column("size", Int64, primary_key=True),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Index("ix_tlog_checkpoints_created", "created_at"),
)

# Witnesses' cosignatures of this node's checkpoints (C2SP tlog-cosignature signature lines).
tlog_cosignatures = Table(
    "tlog_cosignatures",
    metadata,
    Column("size", Int64, nullable=False),
    Column("witness", String(64), nullable=False),
    Column("signature", Text, nullable=False),  # the note's signature line
    Column("received_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("size", "witness"),
)

# What each witness was last sent: the next checkpoint goes with a consistency proof from it.
tlog_witness_sent = Table(
    "tlog_witness_sent",
    metadata,
    Column("witness", String(64), primary_key=True),
    Column("size", Int64, nullable=False),
    Column("sent_at", UtcTime, nullable=False),
)

# As a witness: every checkpoint of other nodes' logs this node verified (its own cosigned
# ones, and those other witnesses cosigned, heard as gossip), to hold each new one against.
tlog_witnessed = Table(
    "tlog_witnessed",
    metadata,
    Column("log_node", String(64), nullable=False),
    Column("size", Int64, nullable=False),
    Column("root_hash", LargeBinary(32), nullable=False),
    Column("note", Text, nullable=False),  # the signed checkpoint, as received
    Column("source", String(64), nullable=False),  # who showed it: the node itself, a witness
    Column("seen_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("log_node", "size", "source"),
    Index("ix_tlog_witnessed_seen", "seen_at"),
)

# Forks, truncations and failed proofs found, with both signed checkpoints as the proof.
tlog_alerts = Table(
    "tlog_alerts",
    metadata,
    Column("id", Int64, primary_key=True),
    Column("detected_at", UtcTime, nullable=False),
    Column("log_node", String(64), nullable=False),  # whose log
    Column("kind", String(32), nullable=False),  # fork | inconsistent | truncated | bad_proof
    Column("detail", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON: the signed checkpoints, the proof
    Column("reported_by", String(64), nullable=False),  # this node, or the one that alerted
    Column("message_id", String(36), nullable=True),  # the signed alert, once sent or received
    Index("ix_tlog_alerts_detected", "detected_at"),
)

# Spot checks of entries (sync.tlog.audit): a witness asks a log to prove, in its next
# checkpoint, messages the two exchanged ("asked", kept by the witness with the size it
# cosigned when it asked); the log keeps what it was asked ("to_prove") until it answers.
tlog_audits = Table(
    "tlog_audits",
    metadata,
    Column("peer", String(64), nullable=False),  # the log asked, or the witness that asked
    Column("message_id", String(36), nullable=False),
    Column("role", String(8), nullable=False),  # asked | to_prove
    Column("asked_at_size", Int64, nullable=False),
    Column("requested_at", UtcTime, nullable=False),
    PrimaryKeyConstraint("peer", "message_id", "role"),
)

TLOG_TABLES = (
    tlog_entries,
    tlog_tiles,
    tlog_checkpoints,
    tlog_cosignatures,
    tlog_witness_sent,
    tlog_witnessed,
    tlog_alerts,
    tlog_audits,
)

# -- the kiosk: officers, their decisions, records attached by hand (ui_kiosk/) --------------

officers = Table(
    "officers",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("name", String(128), nullable=False),  # as written
    Column("badge", String(64), nullable=True),  # what the badge scanner types
    Column("role", String(16), nullable=False),  # officer, supervisor, technician
    Column("language", String(16), nullable=False),  # the kiosk's language for this officer
    Column("pin_hash", String(128), nullable=False),  # Argon2id, never the PIN
    Column("active", Integer, nullable=False),  # 0: may no longer log in (decisions keep it)
    Column("created_at", UtcTime, nullable=False),
    UniqueConstraint("badge", name="uq_officers_badge"),
)

# Evidence: rows are only ever added. A supervisor's reopening is a row of kind "reopen".
decisions = Table(
    "decisions",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("arrival_id", Integer, ForeignKey("arrivals.id"), nullable=False),
    Column("officer_id", String(32), ForeignKey("officers.id"), nullable=False),
    # release, documentary_check, physical_inspection, refuse, reopen
    Column("kind", String(24), nullable=False),
    Column("reason", String(48), nullable=False),  # a code of edge.decisions.ReasonCode
    Column("note", Text, nullable=True),
    Column("manifest_issuer", String(64), nullable=True),  # the record decided on, if any
    Column("manifest_ref", String(35), nullable=True),
    Column("risk_lane", String(8), nullable=True),  # green, yellow, red when decided
    Column("override", Integer, nullable=False),  # 1: a supervisor went below the lane's minimum
    Column("decided_at", UtcTime, nullable=False),
    Index("ix_decisions_arrival", "arrival_id", "id"),
    Index("ix_decisions_decided_at", "decided_at"),
)

# A decision whose messages went to the outbox, in the decision's own transaction; a final
# decision without a row here is sent by the service at its start (edge.service.dispatch).
decisions_queued = Table(
    "decisions_queued",
    metadata,
    Column(
        "decision_id",
        Integer,
        ForeignKey("decisions.id", ondelete="CASCADE"),
        primary_key=True,
    ),
    Column("messages", Integer, nullable=False),  # how many went (0: no destination)
    Column("queued_at", UtcTime, nullable=False),
)

# A reading the service could not take (it raised): kept with the reason for review, not fatal.
# Bounded: the oldest rows beyond edge.reading_quarantine.MAX_ROWS go, counted.
reading_quarantine = Table(
    "reading_quarantine",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("received_at", UtcTime, nullable=False),
    Column("device", String(64), nullable=False),
    Column("kind", String(16), nullable=False),
    Column("reason", Text, nullable=False),
    Column("reading", Text, nullable=False),  # the reading as JSON
    Index("ix_reading_quarantine_received_at", "received_at"),
)

# A record an officer attached to a truck by hand; the latest row of an arrival holds.
manual_matches = Table(
    "manual_matches",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("arrival_id", Integer, ForeignKey("arrivals.id"), nullable=False),
    Column("officer_id", String(32), ForeignKey("officers.id"), nullable=False),
    Column("manifest_issuer", String(64), nullable=False),
    Column("manifest_ref", String(35), nullable=False),
    Column("attached_at", UtcTime, nullable=False),
    Index("ix_manual_matches_arrival", "arrival_id", "id"),
)

# The kiosk's sessions (ui_kiosk.sessions): the SHA-256 of the cookie's token, never the token.
# Retention: a session past expires_at (its idle timeout) is purged.
kiosk_sessions = Table(
    "kiosk_sessions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("officer_id", String(32), ForeignKey("officers.id"), nullable=False),
    Column("created_at", UtcTime, nullable=False),
    Column("last_seen_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Index("ix_kiosk_sessions_expires_at", "expires_at"),
    Index("ix_kiosk_sessions_officer", "officer_id"),
)

# --- fleet management on the box (provisioning.fleet) -------------------------------------------

# Each desired configuration (twin) version the centre sent, and what became of it: applying
# (written, watching health for its grace period), applied, rejected (errors per key) or
# rolled_back (the reason in errors). `reported_state` is the state last sent to the centre as
# a twin_reported. Retention: the newest rows only (provisioning.fleet.records.KEEP_TWINS).
box_twin = Table(
    "box_twin",
    metadata,
    Column("version", Int64, primary_key=True, autoincrement=False),
    Column("state", String(16), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("origin", String(64), nullable=False),  # whom to report to
    Column("grace_s", Integer, nullable=False),
    Column("received_at", UtcTime, nullable=False),
    Column("updated_at", UtcTime, nullable=False),
    Column("restarted_at", UtcTime, nullable=True),  # the service started on the new file
    Column("grace_until", UtcTime, nullable=True),
    Column("devices_before", Text, nullable=False),  # JSON: the devices connected before
    Column("errors", Text, nullable=False),  # JSON list of "path: reason"
    Column("reported_state", String(16), nullable=True),
    Index("ix_box_twin_state", "state"),
)

# Each command the centre sent (the command id is its idempotency key) with its result, sent
# back as a command_result: seeing the id again sends the first result again. The audit of
# the box's fleet actions. Retention: `retention.dedupe_days` after it finished (a command
# redelivered later than that has long expired).
box_commands = Table(
    "box_commands",
    metadata,
    Column("command_id", String(36), primary_key=True),
    Column("action", String(16), nullable=False),
    Column("issued_by", String(64), nullable=False),
    Column("origin", String(64), nullable=False),
    Column("received_at", UtcTime, nullable=False),
    Column("expires_at", UtcTime, nullable=False),
    Column("state", String(16), nullable=False),  # pending, then done|failed|expired|refused
    Column("output", Text, nullable=False),
    Column("attachment", Text, nullable=True),
    Column("finished_at", UtcTime, nullable=True),
    # JSON: what the action needs besides its name (an update: target, rollout); none else.
    Column("arguments", Text, nullable=True),
    Index("ix_box_commands_state", "state"),
    Index("ix_box_commands_finished_at", "finished_at"),
)

# A few named moments of the fleet agent (the last health report sent): one row a name.
box_fleet_marks = Table(
    "box_fleet_marks",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("at", UtcTime, nullable=False),
)

# --- risk profiles on the box (edge.risk_profiles; issue 18, migration 0013) ---------------------

# Each complete rule set version the centre sent (the whole set as JSON); the highest version is
# the active one. Retention: the newest KEEP_SETS (edge.risk_profiles.store).
risk_profile_sets = Table(
    "risk_profile_sets",
    metadata,
    Column("version", Int64, primary_key=True, autoincrement=False),
    Column("country", String(2), nullable=False),
    Column("origin", String(64), nullable=False),  # the centre that signed it
    Column("issued_at", UtcTime, nullable=False),
    Column("received_at", UtcTime, nullable=False),
    Column("profiles", Integer, nullable=False),
    Column("body", Text, nullable=False),  # the RuleSet as JSON
)

# The parts of a set version still arriving (a large set travels as several signed messages,
# each under the envelope limit); deleted when the version is complete or outdated.
risk_profile_parts = Table(
    "risk_profile_parts",
    metadata,
    Column("version", Int64, nullable=False),
    Column("part", Integer, nullable=False),
    Column("parts", Integer, nullable=False),
    Column("origin", String(64), nullable=False),
    Column("received_at", UtcTime, nullable=False),
    Column("body", Text, nullable=False),  # the part's payload as JSON
    PrimaryKeyConstraint("version", "part"),
)

# Each arrival's selectivity: the random draw made once (none|yellow|red, whatever the lane),
# and the lane, profile hits and random selection last shown. The truck's history at the post
# is read from here (truck_key: the tractor plate's canonical key). Retention: as arrivals.
risk_arrivals = Table(
    "risk_arrivals",
    metadata,
    Column("arrival_id", Integer, primary_key=True, autoincrement=False),
    Column("truck_key", String(64), nullable=True),
    Column("opened_at", UtcTime, nullable=False),
    Column("draw", String(8), nullable=False),
    Column("set_version", Int64, nullable=True),
    Column("lane", String(8), nullable=False),
    Column("profiles", Text, nullable=False),  # JSON [{name, version, lane, reason}]
    Column("random", String(8), nullable=True),  # the lane the random selection gave, if any
    Column("updated_at", UtcTime, nullable=False),
    Index("ix_risk_arrivals_truck", "truck_key", "opened_at"),
)

# Evidence: what a documentary check or inspection found, with the selection that sent the
# truck there (so the centre can tell each profile's hit rate). The note is free text: shown
# and sent, never logged. Rows are only added.
inspection_results = Table(
    "inspection_results",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("arrival_id", Integer, nullable=False),
    Column("decision_id", Integer, nullable=True),
    Column("officer_id", String(32), nullable=False),
    Column("outcome", String(16), nullable=False),  # nothing_found | found
    Column("findings", Text, nullable=False),  # JSON list of finding codes
    Column("note", Text, nullable=True),
    Column("lane", String(8), nullable=False),
    Column("set_version", Int64, nullable=True),
    Column("profiles", Text, nullable=False),  # JSON [{name, version}]
    Column("random", String(8), nullable=True),
    Column("recorded_at", UtcTime, nullable=False),
    # when its inspection_result message went to the outbox; NULL: not yet (no route then),
    # sent with the next result or at the kiosk's next start (edge.service.inspections)
    Column("queued_at", UtcTime, nullable=True),
    Index("ix_inspection_results_arrival", "arrival_id"),
    Index("ix_inspection_results_queued_at", "queued_at"),
)
