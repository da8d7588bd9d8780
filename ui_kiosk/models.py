"""What the kiosk shows, as typed models: the backend returns them, the templates render them
and the JSON API sends them (they are its OpenAPI response models)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

from edge.decisions import MAX_NOTE_CHARS, DecisionKind, ReasonCode
from edge.officers import Role
from edge.readings import Health
from edge.risk import RiskLane
from edge.risk_profiles.inspection import MAX_NOTE_CHARS as INSPECTION_NOTE_CHARS
from edge.risk_profiles.inspection import Finding, InspectionOutcome


class _View(BaseModel):
    model_config = ConfigDict(frozen=True)


class OfficerView(_View):
    id: str
    name: str
    name_latin: str | None
    role: Role
    language: str


class DiscrepancyView(_View):
    code: str  # edge.discrepancies.DiscrepancyCode
    detail: str  # in English, for logs and the partner post; the kiosk shows a sentence
    expected: str | None = None
    observed: str | None = None


class CandidateView(_View):
    ref: str
    issuer: str
    score: float
    plate: str | None  # the record's plate as written that the reads fit best
    plate_latin: str | None  # its Latin transliteration when it is not Latin
    read: str | None
    expected_arrival: dt.datetime
    discrepancies: list[DiscrepancyView]


class ProfileHitView(_View):
    """A risk profile that selected the truck (edge.risk_profiles), as the officer reads it."""

    name: str
    version: int
    lane: RiskLane
    reason: str  # the profile's reason key, shown as written


class RiskView(_View):
    lane: RiskLane
    reasons: list[str]  # DiscrepancyCode or edge.risk.MatchDoubt codes, worst first
    profiles: list[ProfileHitView] = []  # the centre's risk profiles that selected it
    random: RiskLane | None = None  # selected at random (ASYCUDA selectivity) for this lane
    set_version: int | None = None  # the rule set the profiles are of


class QueueEntry(_View):
    arrival_id: int
    lane: str  # the physical lane of the post
    opened_at: dt.datetime
    updated_at: dt.datetime
    status: Literal["open", "reopened"]
    plate_read: str | None
    plate_read_latin: str | None
    plate_crop: str | None = None  # the camera's crop of the plate: a data: URL of a JPEG
    plate_country: str | None = None  # as the plate's format told it
    best: CandidateView | None  # the record attached by hand when there is one
    others: list[CandidateView]
    ambiguous: bool
    manual: bool
    risk: RiskView
    readings: int


class PlateView(_View):
    text: str
    latin: str | None
    nationality: str


class PartyView(_View):
    name: str
    name_latin: str | None
    id: str | None = None
    country: str | None = None


class DriverView(_View):
    name: str
    name_latin: str | None
    document_type: str
    document_number: str
    nationality: str | None
    birth_date: dt.date | None


class SealView(_View):
    id: str
    type: str
    party: str | None


class GoodsView(_View):
    seq: int
    description: str
    hs_code: str
    packages: int | None
    package_type: str | None
    gross_mass_kg: float


class RecordView(_View):
    ref: str
    issuer: str
    version: int
    procedure: str
    expected_arrival: dt.datetime
    tir_carnet: str | None
    cmr: str | None
    office_departure: str | None
    office_destination: str | None
    office_border: str
    transport: PlateView
    trailers: list[PlateView]
    driver: DriverView | None
    carrier: PartyView | None
    consignor: PartyView | None
    consignee: PartyView | None
    containers: list[str]
    seals: list[SealView]
    goods: list[GoodsView]


class ReadingView(_View):
    seq: int
    kind: str  # plate, seal, document, barcode, presence
    what: str  # plate, seal, document, transit, container, code, presence: what was read
    device: str
    at: dt.datetime
    value: str  # the plate, seal id, document number or code text as read
    value_latin: str | None
    detail: str  # more of what was read (plate confidences, the name in an MRZ), as data
    # sealed, opened, tampered (seals); valid, not_verified, invalid (documents); present, left
    state: str | None = None
    ok: bool  # False: an invalid document, a tampered or opened seal, an invalid code


class DecisionView(_View):
    id: int
    arrival_id: int
    officer_id: str
    kind: DecisionKind
    reason: ReasonCode
    note: str | None
    issuer: str | None
    ref: str | None
    risk_lane: RiskLane | None
    override: bool
    decided_at: dt.datetime


class ManualMatchView(_View):
    officer_id: str
    issuer: str
    ref: str
    attached_at: dt.datetime


class ArrivalDetail(_View):
    entry: QueueEntry
    closed_at: dt.datetime | None
    close_reason: str | None
    record: RecordView | None  # of `entry.best`
    discrepancies: list[DiscrepancyView]  # of `entry.best`, or why nothing matched
    readings: list[ReadingView]
    decisions: list[DecisionView]  # oldest first; reopenings included
    awaiting_decision: bool
    manual_match: ManualMatchView | None
    lane_minimum: DecisionKind  # the least strict decision an officer may take
    inspections: list[InspectionView] = []  # what checks of this truck found, oldest first
    may_record_inspection: bool = False  # its latest decision is a check or an inspection


class InspectionView(_View):
    id: int
    officer_id: str
    outcome: InspectionOutcome
    findings: list[Finding]
    note: str | None  # free text: shown, never logged
    recorded_at: dt.datetime


class InspectionIn(_View):
    """What a documentary check or an inspection found: no findings is "nothing found"."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    findings: Annotated[list[Finding], Field(max_length=len(Finding))] = []
    note: Annotated[str, Field(max_length=INSPECTION_NOTE_CHARS)] | None = None


Note = Annotated[str, Field(max_length=MAX_NOTE_CHARS)]


class DecisionIn(_View):
    model_config = ConfigDict(extra="forbid", frozen=True)

    kind: DecisionKind
    reason: ReasonCode
    note: Note | None = None


class ReopenIn(_View):
    model_config = ConfigDict(extra="forbid", frozen=True)

    reason: ReasonCode
    note: Note | None = None


class ScanOutcome(_View):
    arrival_id: int
    kind: Literal["document", "seal", "reference", "container", "code"]
    value: str


class SearchHit(_View):
    issuer: str
    ref: str
    matched_on: Literal["plate", "reference", "seal", "document"]
    plate: PlateView
    trailers: list[str]
    driver_name: str | None
    driver_document: str | None
    expected_arrival: dt.datetime
    seals: list[str]


class DeviceHealthView(_View):
    id: str
    kind: str
    lane: str
    health: Health
    why: str
    readings: int = 0
    rejects: int = 0


class PeerStatusView(_View):
    name: str
    connected: bool
    detail: str = ""


class StuckMessageView(_View):
    """A message the broker refused and has not taken since, with the broker's reason."""

    id: str
    peer: str
    type: str
    destination: str
    created_at: dt.datetime
    refusals: int
    reason: str
    retry_at: dt.datetime | None


class SyncStatusView(_View):
    configured: bool
    peers: list[PeerStatusView]
    outbox_waiting: int  # not yet taken by the broker
    outbox_unconfirmed: int  # taken by the broker, not yet acknowledged by the receiver
    oldest_waiting_at: dt.datetime | None
    quarantined: int
    outbox_refused: int = 0  # refused by the broker, waiting for their next try
    stuck: list[StuckMessageView] = []  # the first of those, with the broker's reason


class FleetCommandView(_View):
    command_id: str
    action: str
    state: str
    received_at: dt.datetime


class FleetStatusView(_View):
    """The box's fleet management as the technician sees it (`carec-edge fleet status`)."""

    enrolled: bool
    certificate_not_after: dt.datetime | None
    report_to: str  # the centre; empty: fleet management is off
    twin_desired_version: int
    twin_applied_version: int
    twin_state: str | None
    twin_errors: list[str] = []
    pending_commands: list[FleetCommandView] = []
    last_health_at: dt.datetime | None = None


class ReportCell(_View):
    risk_lane: RiskLane | None
    decision: DecisionKind
    trucks: int


class ShiftReport(_View):
    since: dt.datetime
    until: dt.datetime
    handled: int  # trucks whose latest row in the shift is a decision
    cells: list[ReportCell]  # by lane and decision
    reopened: int  # trucks reopened and not decided again
    overrides: int
    minutes_to_decision_median: float | None
    minutes_to_decision_p90: float | None
    minutes_to_decision_max: float | None
    with_pre_arrival: int  # handled trucks decided on a pre-arrival record
    coverage: float | None  # with_pre_arrival / handled
