"""The payloads that travel in envelopes: one typed model per message type, the registry of
types, and the priority class of each (evidence is never dropped, telemetry may be).

A payload that breaks its model is rejected whole with one `path: reason` per bad field; a
manifest inside a payload is checked by the e-manifest contract's own parser and rejected with
the contract's reasons (`record.seals[2].id: empty`).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
import uuid
from collections.abc import Mapping
from enum import StrEnum
from types import MappingProxyType
from typing import Annotated, Any, ClassVar, Literal

import uuid6
from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, PydanticCustomError

from edge.codes import COUNTRIES_ALPHA2
from edge.decisions import FINAL_KINDS, DecisionKind
from edge.discrepancies import DiscrepancyCode
from edge.manifest import (
    ContractError,
    Manifest,
    Seal,
    describe_validation_error,
    field_path,
    parse_manifest,
)
from edge.risk_profiles.inspection import Finding
from edge.risk_profiles.model import Profile, RandomRates
from edge.store.schema import MAX_STORED_INT
from edge.timeutil import format_utc, parse_utc

# --- identifiers -----------------------------------------------------------------------------

# A node (`KZ-NURZHOLY-1`) or a national system (`KZ-CIS`): the grammar of
# provisioning.identity's NodeId (which this room may not import yet), safe as a topic level.
_PARTY_ID = re.compile(r"^[A-Z]{2}-[A-Z][A-Z0-9]{0,31}(?:-[1-9][0-9]{0,3})?$")


@functools.lru_cache(maxsize=4096)  # a box hears from few parties, in every message
def party_id_error(value: str) -> str | None:
    """Why `value` is not a node or CIS id, or None when it is one."""
    if not _PARTY_ID.match(value):
        return f"{value[:40]!r} is not a node or CIS id such as KZ-NURZHOLY-1 or KZ-CIS"
    if value[:2] not in COUNTRIES_ALPHA2:
        return f"{value!r} does not start with an ISO 3166-1 alpha-2 country code"
    return None


def _party_id(value: str) -> str:
    error = party_id_error(value)
    if error:
        raise ValueError(error)
    return value


_CANONICAL_V7 = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def _message_id(value: str) -> str:
    if _CANONICAL_V7.fullmatch(value):  # the common case, cheaply (acks carry hundreds)
        return value
    try:
        parsed = uuid.UUID(value)
    except ValueError:
        raise ValueError(f"{value[:40]!r} is not a UUID") from None
    if parsed.version != 7:
        raise ValueError(f"{value!r} is a UUID version {parsed.version}, expected version 7")
    if str(parsed) != value:
        raise ValueError(f"{value!r} is not in canonical form; write it as {parsed}")
    return value


# A sender's batch shares one `created` time: each text parsed once (a datetime is immutable;
# a refused text is not remembered).
_parse_utc = functools.lru_cache(maxsize=1024)(parse_utc)


def _utc_time(value: Any) -> dt.datetime:
    if isinstance(value, dt.datetime):
        if value.tzinfo is None:
            raise ValueError("a naive time; give it in UTC")
        return value.astimezone(dt.UTC)
    if not isinstance(value, str) or not value.endswith("Z"):
        raise ValueError("expected an ISO 8601 time in UTC with a Z, e.g. 2026-11-28T08:30:00Z")
    return _parse_utc(value)


PartyId = Annotated[str, StringConstraints(strict=True), AfterValidator(_party_id)]
MessageId = Annotated[str, StringConstraints(strict=True), AfterValidator(_message_id)]
UtcTime = Annotated[
    dt.datetime, BeforeValidator(_utc_time), PlainSerializer(format_utc, return_type=str)
]
Code = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z][A-Z0-9_]{0,63}$")]
Lane = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,32}$")]
ShortText = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
Score = Annotated[float, Field(ge=0.0, le=1.0, allow_inf_nan=False)]
# A positive integer that fits where it is stored (edge.store.schema.MAX_STORED_INT).
PositiveInt = Annotated[int, Field(ge=1, le=MAX_STORED_INT, strict=True)]


def new_message_id() -> str:
    """A fresh UUIDv7 (time-ordered) as its canonical string."""
    return str(uuid6.uuid7())


# --- payload models --------------------------------------------------------------------------


class Priority(StrEnum):
    CONTROL = "control"  # the fleet's twin changes and commands: never dropped, sent first
    EVIDENCE = "evidence"  # decisions, exit confirmations: never dropped
    OPERATIONAL = "operational"  # manifests, arrivals, acks
    TELEMETRY = "telemetry"  # may expire or be dropped oldest-first


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Message(_Part):
    """The payload of one message type. Subclasses name their wire type and priority class."""

    TYPE: ClassVar[str]
    PRIORITY: ClassVar[Priority]

    def speaks_for(self) -> str | None:
        """The node this payload says it comes from, which must be the envelope's origin."""
        return None


def _manifest_record(value: Any) -> Manifest:
    if isinstance(value, Manifest):
        return value
    try:
        return parse_manifest(value)
    except ContractError as error:
        raise PydanticCustomError(
            "manifest_contract", "{reasons}", {"reasons": error.reasons}
        ) from None


Record = Annotated[Manifest, BeforeValidator(_manifest_record)]


class ManifestMessage(Message):
    """A pre-arrival record from the CIS (or relayed by a post), in the e-manifest contract."""

    TYPE: ClassVar[str] = "manifest"
    PRIORITY: ClassVar[Priority] = Priority.OPERATIONAL

    record: Record


class PlateReadout(_Part):
    text: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=32)]
    confidence: Score
    position: Literal["tractor", "trailer"] | None = None


class ArrivalMessage(Message):
    """A truck opened at a lane: what the camera read and the record it fits best."""

    TYPE: ClassVar[str] = "arrival"
    PRIORITY: ClassVar[Priority] = Priority.OPERATIONAL

    node: PartyId
    lane: Lane
    arrival_id: PositiveInt
    opened_at: UtcTime
    plate_reads: Annotated[tuple[PlateReadout, ...], Field(max_length=32)] = ()
    best_ref: Annotated[str, StringConstraints(min_length=1, max_length=35)] | None = None
    best_score: Score | None = None
    discrepancies: Annotated[tuple[DiscrepancyCode, ...], Field(max_length=32)] = ()
    # Whether two records fitted the truck too closely to tell apart, and the lane it was given
    # (what the officer saw); None from a box that does not say.
    ambiguous: bool | None = None
    risk_lane: Literal["green", "yellow", "red"] | None = None

    def speaks_for(self) -> str:
        return self.node


_SENT_KINDS = frozenset(k.value for k in FINAL_KINDS)
_EXPECTED_KINDS = " or ".join(", ".join(f"'{k.value}'" for k in FINAL_KINDS).rsplit(", ", 1))


def _sent_kind(value: Any) -> Any:
    if isinstance(value, str) and value in _SENT_KINDS:
        return value
    raise PydanticCustomError("enum", "Input should be {expected}", {"expected": _EXPECTED_KINDS})


# The core's kinds (edge.decisions), the final ones only: a reopening stays on the box.
SentDecisionKind = Annotated[DecisionKind, BeforeValidator(_sent_kind)]


class ArrivalRef(_Part):
    node: PartyId
    arrival_id: PositiveInt


class ManifestRef(_Part):
    ref: Annotated[str, StringConstraints(min_length=1, max_length=35)]
    issuer: PartyId
    version: PositiveInt = 1


class DecisionMessage(Message):
    """The officer's decision on an arrival: evidence, never dropped."""

    TYPE: ClassVar[str] = "decision"
    PRIORITY: ClassVar[Priority] = Priority.EVIDENCE

    arrival: ArrivalRef
    manifest: ManifestRef | None = None  # None: no pre-arrival record fitted the truck
    decision: SentDecisionKind
    reason: Code
    note: Annotated[str, StringConstraints(strict=True, max_length=2000)] | None = None
    officer: ShortText
    decided_at: UtcTime

    def speaks_for(self) -> str:
        return self.arrival.node


class ExitConfirmationMessage(Message):
    """From an exit post to the partner's entry post: the record as the truck left, which
    becomes pre-arrival information at the entry post."""

    TYPE: ClassVar[str] = "exit_confirmation"
    PRIORITY: ClassVar[Priority] = Priority.EVIDENCE

    record: Record
    exited_at: UtcTime
    seals: Annotated[tuple[Seal, ...], Field(max_length=64)] = ()  # as found at exit
    exit_node: PartyId

    def speaks_for(self) -> str:
        return self.exit_node


class ManifestWithdrawalMessage(Message):
    """From the centre to a box: drop this record (cancelled by the CIS, or amended so that
    it no longer concerns the box's offices). Sent on the box's manifest stream, so it is
    applied after every version it withdraws."""

    TYPE: ClassVar[str] = "manifest_withdrawal"
    PRIORITY: ClassVar[Priority] = Priority.OPERATIONAL

    issuer: PartyId
    ref: Annotated[str, StringConstraints(min_length=1, max_length=35)]
    version: PositiveInt  # versions up to this one are withdrawn; a later one stands
    reason: Literal["CANCELLED", "NOT_CONCERNED"]


class RelayMessage(Message):
    """Another node's signed envelope, carried on by a centre: an exit post's exit confirmation
    goes to its centre, which relays it to the partner's centre, which relays it to its entry
    post. The inner envelope keeps its origin's signature end to end, so the entry post (and
    each centre) checks what the exit post said, not a centre's word for it."""

    TYPE: ClassVar[str] = "relay"
    PRIORITY: ClassVar[Priority] = Priority.EVIDENCE

    # The inner envelope's JWS compact serialisation, as its origin signed it.
    envelope: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=200_000)]
    # Who relayed it so far, first hop first (the inner envelope's destination is the first).
    via: Annotated[tuple[PartyId, ...], Field(min_length=1, max_length=4)]


class AckMessage(Message):
    """The message ids a receiver has applied (or quarantined) for good."""

    TYPE: ClassVar[str] = "ack"
    PRIORITY: ClassVar[Priority] = Priority.OPERATIONAL

    ids: Annotated[tuple[MessageId, ...], Field(min_length=1, max_length=1000)]


MetricName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_.]{0,63}$")]
MetricValue = (
    Annotated[bool, Field(strict=True)]
    | Annotated[int, Field(strict=True)]
    | Annotated[float, Field(allow_inf_nan=False)]
    | Annotated[str, StringConstraints(max_length=256)]
)


class TelemetryMessage(Message):
    """Free-form health metrics: a flat, bounded map of names to scalars."""

    TYPE: ClassVar[str] = "telemetry"
    PRIORITY: ClassVar[Priority] = Priority.TELEMETRY

    metrics: Annotated[dict[MetricName, MetricValue], Field(max_length=256)]

    @field_validator("metrics", mode="before")
    @classmethod
    def _bounded_before_parsing(cls, value: Any) -> Any:
        if isinstance(value, Mapping) and len(value) > 256:
            raise ValueError(f"{len(value)} metrics, at most 256")
        return value


# --- fleet management (provisioning.fleet on the box, centre.fleet at the centre) -------------

DeviceId = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
Reason = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=300)]
Version = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
# A TUF target's name (the update bundle, e.g. carec-edge-1.5.0.raucb): a plain file name, so
# it can never name a path outside the box's download directory.
TargetName = Annotated[
    str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9._+-]{0,127}$")
]
# The sections of carec-edge.toml an operator may change remotely (edge.config's models);
# identity, trust store, store and logging stay local: a wrong value there could not be undone
# from afar.
TwinSection = Literal["devices", "lanes", "matching", "kiosk", "plates", "sync", "retention"]
TWIN_SECTIONS: tuple[str, ...] = TwinSection.__args__  # type: ignore[attr-defined]
# The keys of [sync] a twin may set: where messages go, not who the box is or whom it trusts.
TWIN_SYNC_KEYS = frozenset({"peers", "decisions_to", "exit_confirmations_to"})


class DeviceHealthReport(_Part):
    id: DeviceId
    kind: ShortText
    lane: Lane
    health: Literal["connected", "degraded", "disconnected"]
    why: Reason | None = None  # the device's own words ("no frames for 30 s"), no personal data


class BacklogReport(_Part):
    """What waits in the outbox for one peer, in one priority class."""

    peer: Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z0-9_-]{1,32}$")]
    priority: Priority
    waiting: Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)]


class ClockReport(_Part):
    """The box's time, which signatures and arrival windows depend on."""

    source: Literal["chrony", "timesyncd", "none", "unknown"]
    synchronised: bool
    offset_ms: Annotated[float, Field(allow_inf_nan=False, ge=-1e9, le=1e9)] | None = None


Seconds = Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)]


class UpdateReport(_Part):
    """Where the box's software update stands (provisioning.update.state), for the centre's
    rollout: its phase, the slot it booted and, when it stopped, why."""

    phase: Literal[
        "idle", "downloading", "installing", "rebooting", "good", "rolled_back", "failed"
    ]
    target: TargetName | None = None
    version: Version | None = None
    booted_slot: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z]$")] | None = None
    reason: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=500)] | None = (
        None
    )
    rollout: MessageId | None = None


class HealthMessage(Message):
    """A box's health, every half minute: what the centre's fleet pages and alerts are made
    of. Telemetry: a report that cannot be sent in time is superseded by the next one."""

    TYPE: ClassVar[str] = "health"
    PRIORITY: ClassVar[Priority] = Priority.TELEMETRY

    node: PartyId
    at: UtcTime
    service: Literal["ok", "degraded", "failing"]
    devices: Annotated[tuple[DeviceHealthReport, ...], Field(max_length=64)] = ()
    plate_worker: Literal["ok", "busy", "down", "off"]
    disk_used_pct: Annotated[float, Field(ge=0, le=100, allow_inf_nan=False)]
    disk_free_mb: Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)]
    database_mb: Annotated[float, Field(ge=0, le=1e9, allow_inf_nan=False)]
    backlog: Annotated[tuple[BacklogReport, ...], Field(max_length=64)] = ()
    # None (nothing unsent, no certificate): a default, as the envelope leaves None out.
    oldest_unsent_evidence_s: Seconds | None = None
    clock: ClockReport
    certificate_not_after: UtcTime | None = None
    software_version: Version
    model_version: Version | None = None
    last_decision_at: UtcTime | None = None
    twin_version: Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)] = 0
    # None (left out): a box from before updates, or one that cannot read its update state.
    update: UpdateReport | None = None

    def speaks_for(self) -> str:
        return self.node


class TwinDesiredMessage(Message):
    """From the centre to one box: the configuration its fleet operator wants, version by
    version. The box validates the sections with the models of carec-edge.toml, applies them
    atomically and rolls them back itself when its health fails within `grace_s`."""

    TYPE: ClassVar[str] = "twin_desired"
    PRIORITY: ClassVar[Priority] = Priority.CONTROL

    node: PartyId  # the box it is for
    version: PositiveInt  # a box applies a version once, and never one older than it has
    issued_by: ShortText  # the operator's login
    issued_at: UtcTime
    # Section name -> its whole content as in carec-edge.toml (devices: a list of tables);
    # a section not named keeps the box's own.
    sections: Annotated[dict[TwinSection, Any], Field(max_length=len(TWIN_SECTIONS))]
    grace_s: Annotated[int, Field(ge=10, le=24 * 3600, strict=True)] = 300


class TwinReportedMessage(Message):
    """From a box to its centre: what it did with a desired version, and what it runs."""

    TYPE: ClassVar[str] = "twin_reported"
    PRIORITY: ClassVar[Priority] = Priority.CONTROL

    node: PartyId
    desired_version: Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)]
    # applying: written, watching health for the grace period; applied: it held; rejected:
    # the sections broke their models (errors name the keys); rolled_back: health failed.
    state: Literal["applying", "applied", "rejected", "rolled_back"]
    applied_version: Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)]  # 0: none
    errors: Annotated[tuple[Reason, ...], Field(max_length=64)] = ()
    software_version: Version
    devices_found: Annotated[tuple[DeviceId, ...], Field(max_length=64)] = ()
    reported_at: UtcTime

    def speaks_for(self) -> str:
        return self.node


CommandAction = Literal[
    "restart", "self_test", "diagnostics", "reload_trust", "rotate_key", "reboot", "update"
]


class CommandMessage(Message):
    """From the centre to one box: do this once, before `expires_at`. The command id is the
    idempotency key: a box that sees it again answers with the first result."""

    TYPE: ClassVar[str] = "command"
    PRIORITY: ClassVar[Priority] = Priority.CONTROL

    command_id: MessageId
    node: PartyId  # the box it is for
    action: CommandAction
    issued_by: ShortText
    issued_at: UtcTime
    expires_at: UtcTime
    # `update` only: the bundle's TUF target and the centre's rollout that asks for it (left
    # out for every other action, so boxes from before updates read those commands as ever).
    target: TargetName | None = None
    rollout: MessageId | None = None

    @model_validator(mode="after")
    def _update_names_its_target(self) -> CommandMessage:
        if self.action == "update" and self.target is None:
            raise ValueError("an update command names its target (the bundle's TUF target)")
        if self.action != "update" and (self.target is not None or self.rollout is not None):
            raise ValueError(f"target and rollout belong to update commands, not {self.action}")
        return self


class CommandResultMessage(Message):
    """From a box to its centre: what came of a command, with its output (personal data
    redacted: a diagnostics bundle is built to hold none)."""

    TYPE: ClassVar[str] = "command_result"
    PRIORITY: ClassVar[Priority] = Priority.CONTROL

    command_id: MessageId
    node: PartyId
    action: CommandAction
    outcome: Literal["done", "failed", "expired", "refused"]
    output: Annotated[str, StringConstraints(strict=True, max_length=16_000)] = ""
    # A diagnostics bundle: a gzip'd tar, base64, at most 256 KiB encoded.
    attachment: Annotated[str, StringConstraints(strict=True, max_length=262_144)] | None = None
    finished_at: UtcTime

    def speaks_for(self) -> str:
        return self.node


# A revoked certificate as its CA issued it (PEM): an Ed25519 box certificate is under 1 KB.
RevokedCertificate = Annotated[str, StringConstraints(strict=True, min_length=1, max_length=8192)]


class RevocationMessage(Message):
    """From the centre to every box of its fleet: certificates and keys no longer to trust.
    The box adds them to its trust store's revocations, so a revoked box's messages are
    quarantined from the next sync on.

    To a partner country's centre the revocation also carries the revoked `certificates`, so
    that it can check each was issued by the CA of the sender's country (a centre revokes its
    own country's boxes only) before its inbox, and its boxes, refuse them too. The envelope's
    256 KiB bound them first: about 250 box certificates."""

    TYPE: ClassVar[str] = "revocation"
    PRIORITY: ClassVar[Priority] = Priority.CONTROL

    serials: Annotated[
        tuple[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{1,40}$")], ...],
        Field(max_length=10_000),
    ] = ()
    keys: Annotated[
        tuple[Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")], ...],
        Field(max_length=10_000),
    ] = ()
    # None (left out on the wire): a box's revocation, as before certificates were carried.
    certificates: Annotated[tuple[RevokedCertificate, ...], Field(max_length=1000)] | None = None
    revoked_at: UtcTime


# --- the transparency log's witnessing (sync.tlog.witness) -------------------------------------

MAX_NOTE_BYTES = 64 * 1024  # sync.tlog.note's bound on a signed note
TreeSize = Annotated[int, Field(ge=0, le=MAX_STORED_INT, strict=True)]
TreeHash = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9a-f]{64}$")]
Proof = Annotated[tuple[TreeHash, ...], Field(max_length=64)]  # 64 levels: any size of tree


def _note_bytes(value: str) -> str:
    size = len(value.encode("utf-8", "surrogatepass"))
    if size > MAX_NOTE_BYTES:
        raise ValueError(f"a signed note of {size} bytes, at most {MAX_NOTE_BYTES}")
    return value


SignedNoteText = Annotated[str, StringConstraints(strict=True), AfterValidator(_note_bytes)]


MAX_AUDITED = 16  # entries a witness spot-checks a round


class AuditedEntry(_Part):
    """One spot-checked message as the log holds it (`sync.tlog.store.LogEntry`): none at
    `leaf_index` when it is not in the log."""

    message_id: MessageId
    kind: Literal["signed", "applied"] | None = None
    type: Annotated[str, StringConstraints(strict=True, max_length=32)] = ""
    party: PartyId | None = None
    envelope_sha256: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] | None = None
    leaf_index: TreeSize | None = None
    proof: Proof = ()


class CheckpointMessage(Message):
    """From a node to a witness of its log: its latest signed checkpoint (C2SP tlog-checkpoint)
    with the consistency proof from the size it last showed this witness (`old_size`, 0 with
    an empty proof the first time)."""

    TYPE: ClassVar[str] = "checkpoint"
    PRIORITY: ClassVar[Priority] = Priority.OPERATIONAL

    note: Annotated[SignedNoteText, StringConstraints(min_length=1)]
    old_size: TreeSize
    proof: Proof = ()
    # The answer to the witness's spot check asked with its cosignature of size `audit_of`:
    # each message it named, as this log holds it, with its inclusion proof in `note`'s tree.
    audit_of: TreeSize | None = None
    entries: Annotated[tuple[AuditedEntry, ...], Field(max_length=MAX_AUDITED)] = ()


class CosignatureMessage(Message):
    """From a witness: the log's checkpoint with the witness's C2SP tlog-cosignature line
    added, to the log's node and, as gossip (with the log's key), to the centres. A refusal
    (the proof did not start where the witness stands) has no note and says the size the
    witness last saw in `known_size`."""

    TYPE: ClassVar[str] = "cosignature"
    PRIORITY: ClassVar[Priority] = Priority.OPERATIONAL

    log_node: PartyId
    size: TreeSize
    note: SignedNoteText = ""
    known_size: TreeSize | None = None
    # The log's verifier key (Go's note format), when gossiped: whose log the note is.
    log_key: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=400)] | None = (
        None
    )
    # A spot check: messages the two exchanged that the log must prove in its next checkpoint.
    audit: Annotated[tuple[MessageId, ...], Field(max_length=MAX_AUDITED)] = ()

    @model_validator(mode="after")
    def _cosigned_or_refused(self) -> CosignatureMessage:
        if self.known_size is None and not self.note:
            raise ValueError("a cosignature carries the cosigned note, or known_size if refused")
        if self.known_size is not None and self.note:
            raise ValueError("a refusal (known_size) carries no note")
        return self


class TlogAlertMessage(Message):
    """From the node that found a log forked, inconsistent, truncated or failing a proof, to
    its centres: evidence, with both signed checkpoints and the proof that fails."""

    TYPE: ClassVar[str] = "tlog_alert"
    PRIORITY: ClassVar[Priority] = Priority.EVIDENCE

    log_node: PartyId
    kind: Literal["fork", "inconsistent", "truncated", "bad_proof"]
    detail: Annotated[str, StringConstraints(strict=True, max_length=2000)]
    checkpoints: Annotated[tuple[SignedNoteText, ...], Field(max_length=4)] = ()
    proof: Proof = ()


# --- risk profiles (edge.risk_profiles; issue 18) ----------------------------------------------

MAX_PROFILES_PER_PART = 500  # each part stays under the envelope limit (profiles are bounded)
MAX_RISK_PARTS = 64


class RiskProfilesMessage(Message):
    """From a centre to each box of its country: one part of a rule set version (a set of
    10,000 profiles does not fit one envelope). The box keeps the parts and makes the version
    its active set, whole and at once, when the last one is in, and only if it is newer than
    the set it has. Control: configuration of the box's selectivity, never dropped, sent
    before the manifests queued behind it (the trucks they announce meet the new set)."""

    TYPE: ClassVar[str] = "risk_profiles"
    PRIORITY: ClassVar[Priority] = Priority.CONTROL

    country: Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}$")]
    version: PositiveInt
    issued_at: UtcTime
    issued_by: ShortText
    random: RandomRates = RandomRates()
    part: Annotated[int, Field(ge=1, le=MAX_RISK_PARTS, strict=True)] = 1
    parts: Annotated[int, Field(ge=1, le=MAX_RISK_PARTS, strict=True)] = 1
    profiles: Annotated[tuple[Profile, ...], Field(max_length=MAX_PROFILES_PER_PART)] = ()

    @model_validator(mode="after")
    def _part_of_parts(self) -> RiskProfilesMessage:
        if self.part > self.parts:
            raise ValueError(f"part {self.part} of {self.parts}")
        return self


class ProfileRef(_Part):
    name: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
    version: PositiveInt


class InspectionResultMessage(Message):
    """From a box to its centre: what a documentary check or inspection found (nothing, or
    findings by code, with the officer's note), and what had selected the truck: the profiles
    of set `set_version`, or the random selection. Evidence: never dropped."""

    TYPE: ClassVar[str] = "inspection_result"
    PRIORITY: ClassVar[Priority] = Priority.EVIDENCE

    arrival: ArrivalRef
    result_id: PositiveInt
    decision: SentDecisionKind | None = None
    outcome: Literal["nothing_found", "found"]
    findings: Annotated[tuple[Finding, ...], Field(max_length=len(Finding))] = ()
    note: Annotated[str, StringConstraints(strict=True, max_length=2000)] | None = None
    officer: ShortText
    lane: Literal["green", "yellow", "red"]
    set_version: PositiveInt | None = None
    profiles: Annotated[tuple[ProfileRef, ...], Field(max_length=256)] = ()
    random: Literal["yellow", "red"] | None = None
    recorded_at: UtcTime

    @model_validator(mode="after")
    def _outcome_fits(self) -> InspectionResultMessage:
        if (self.outcome == "found") != bool(self.findings):
            raise ValueError("outcome 'found' goes with findings, 'nothing_found' without")
        return self

    def speaks_for(self) -> str:
        return self.arrival.node


MESSAGE_TYPES: Mapping[str, type[Message]] = MappingProxyType(
    {
        model.TYPE: model
        for model in (
            ManifestMessage,
            ArrivalMessage,
            DecisionMessage,
            ExitConfirmationMessage,
            ManifestWithdrawalMessage,
            RelayMessage,
            AckMessage,
            TelemetryMessage,
            HealthMessage,
            TwinDesiredMessage,
            TwinReportedMessage,
            CommandMessage,
            CommandResultMessage,
            RevocationMessage,
            CheckpointMessage,
            CosignatureMessage,
            TlogAlertMessage,
            RiskProfilesMessage,
            InspectionResultMessage,
        )
    }
)


# Types a receiver applies as they come and never acknowledges: acks (an ack of an ack would
# never end) and the telemetry class (a sender may drop one, so a gap in its stream means
# nothing, and the broker's PUBACK is all the proof it needs).
TELEMETRY_TYPES = frozenset(
    name for name, model in MESSAGE_TYPES.items() if model.PRIORITY is Priority.TELEMETRY
)
UNORDERED_TYPES = frozenset({"ack"}) | TELEMETRY_TYPES


def priority_of(message_type: str) -> Priority:
    """The priority class of a registered type; KeyError for an unknown one."""
    return MESSAGE_TYPES[message_type].PRIORITY


# --- parsing with reasons --------------------------------------------------------------------


class PayloadError(ValueError):
    """A payload that breaks its type's model, with one `path: reason` per bad field."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


def _contract_reasons(item: ErrorDetails) -> list[str]:
    path = field_path(item["loc"])
    out = []
    for reason in item.get("ctx", {}).get("reasons", ()):
        # The contract names fields from the record's root; "record: ..." is the record itself.
        head, _, rest = str(reason).partition(": ")
        inner = "" if head == "record" else f".{head}"
        out.append(f"{path}{inner}: {rest}")
    return out


def describe_payload_error(error: ValidationError) -> list[str]:
    """One `path: reason` per failing field, the contract's reasons for a manifest inside."""
    contract = [
        item for item in error.errors(include_url=False) if item["type"] == "manifest_contract"
    ]
    reasons = [r for item in contract for r in _contract_reasons(item)]
    if len(contract) == error.error_count():
        return reasons
    others = [r for r in describe_validation_error(error) if r not in _plain(contract)]
    return reasons + others


def _plain(items: list[ErrorDetails]) -> set[str]:
    # How describe_validation_error renders a contract error: its template filled in.
    return {f"{field_path(item['loc']) or 'record'}: {item['msg']}" for item in items}


def parse_payload(message_type: str, data: object) -> Message:
    """Validate a decoded payload as `message_type`; KeyError for an unknown type, PayloadError
    with the reasons for a bad payload."""
    model = MESSAGE_TYPES[message_type]
    if not isinstance(data, dict):
        raise PayloadError([f"payload: expected a JSON object, got {type(data).__name__}"])
    try:
        return model.model_validate(data)
    except ValidationError as error:
        raise PayloadError(describe_payload_error(error)) from None


def payload_json(message: Message) -> dict[str, Any]:
    """The payload as JSON values, absent optional fields left out."""
    return message.model_dump(mode="json", exclude_none=True)
