"""Arrivals, records, readings and decisions of the core, as the kiosk's views.

Pure functions: the backend reads the store, these shape what it read. The lane is assessed
here from the arrival's match (or the record attached by hand) with `edge.risk.assess`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from edge.arrivals import Arrival, StoredReading
from edge.decisions import Decision, DecisionKind, ManualMatch, lane_minimum
from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest, Party, Trailer, Vehicle
from edge.risk import RiskAssessment, assess
from edge.risk_profiles.inspection import InspectionResult
from edge.risk_profiles.lane import Selectivity
from edge.timeutil import parse_utc
from ui_kiosk.models import (
    ArrivalDetail,
    CandidateView,
    DecisionView,
    DiscrepancyView,
    DriverView,
    GoodsView,
    InspectionView,
    ManualMatchView,
    PartyView,
    PlateView,
    ProfileHitView,
    QueueEntry,
    ReadingView,
    RecordView,
    RiskView,
    SealView,
)
from ui_kiosk.translit import name_latin, plate_latin


@dataclass(frozen=True)
class Assessed:
    """An arrival's match as the officer sees it: the record shown, the others, the lane."""

    best: CandidateView | None
    others: list[CandidateView]
    discrepancies: list[DiscrepancyView]
    ambiguous: bool
    manual: bool
    risk: RiskAssessment
    # The lane with the centre's risk profiles and the random selection (edge.risk_profiles);
    # None: assessed by the fixed rules alone. `risk` is then its assessment.
    selectivity: Selectivity | None = None

    @property
    def risk_view(self) -> RiskView:
        chosen = self.selectivity
        return RiskView(
            lane=self.risk.lane,
            reasons=[r.code for r in self.risk.reasons],
            profiles=[
                ProfileHitView(name=h.name, version=h.version, lane=h.lane, reason=h.reason)
                for h in (chosen.profiles if chosen else ())
            ],
            random=chosen.random if chosen else None,
            set_version=chosen.set_version if chosen and chosen.profiles else None,
        )

    def selected(self, chosen: Selectivity) -> Assessed:
        """This assessment with the profiles and the random selection combined in."""
        return dataclasses.replace(self, risk=chosen.assessment, selectivity=chosen)


def discrepancy_view(data: Mapping[str, Any]) -> DiscrepancyView:
    return DiscrepancyView(
        code=str(data["code"]),
        detail=str(data.get("detail", "")),
        expected=data.get("expected"),
        observed=data.get("observed"),
    )


def candidate_view(data: Mapping[str, Any]) -> CandidateView:
    plate = data.get("plate")
    return CandidateView(
        ref=str(data["ref"]),
        issuer=str(data["issuer"]),
        score=float(data["score"]),
        plate=plate,
        plate_latin=plate_latin(plate),
        read=data.get("read"),
        expected_arrival=parse_utc(str(data["expected_arrival"])),
        discrepancies=[discrepancy_view(d) for d in data.get("discrepancies", ())],
    )


def assess_match(
    match: Mapping[str, Any] | None, manual: Mapping[str, Any] | None = None
) -> Assessed:
    """The lane and the record to show: the one attached by hand, else the best match."""
    match = match or {}
    candidates = [candidate_view(c) for c in match.get("candidates", ())]
    if manual is not None:
        best = candidate_view(manual)
        others = [c for c in candidates if (c.issuer, c.ref) != (best.issuer, best.ref)]
        discrepancies = best.discrepancies
        risk = assess(best.score, _codes(discrepancies), manual=True)
        return Assessed(best, others, discrepancies, False, True, risk)
    ambiguous = bool(match.get("ambiguous", False))
    if candidates:
        best = candidates[0]
        risk = assess(best.score, _codes(best.discrepancies), ambiguous=ambiguous)
        return Assessed(best, candidates[1:], best.discrepancies, ambiguous, False, risk)
    discrepancies = [discrepancy_view(d) for d in match.get("discrepancies", ())]
    if not discrepancies:  # nothing read yet: no record fits a truck we know nothing of
        discrepancies = [
            DiscrepancyView(
                code=DiscrepancyCode.NO_PRE_ARRIVAL.value,
                detail="nothing read yet",
            )
        ]
    return Assessed(None, [], discrepancies, False, False, assess(None, _codes(discrepancies)))


def _codes(discrepancies: Sequence[DiscrepancyView]) -> list[DiscrepancyCode]:
    known = {c.value for c in DiscrepancyCode}
    return [DiscrepancyCode(d.code) for d in discrepancies if d.code in known]


class PlateSeen(NamedTuple):
    text: str
    country: str | None
    crop: str | None  # a data: URL


def plate_seen(arrival: Arrival) -> PlateSeen | None:
    """The latest plate read of the tractor (or of anything, when only a trailer was read),
    with the crop the camera took of it."""
    for reading in reversed(arrival.readings):
        if reading.kind != "plate":
            continue
        found: list[dict[str, Any]] = list(reading.data.get("candidates", ()))  # type: ignore[call-overload]
        candidates = sorted(found, key=lambda c: -float(c.get("confidence", 0)))
        tractor = [c for c in candidates if c.get("position") != "trailer"]
        chosen = (tractor or candidates)[:1]
        if chosen:
            crop = reading.data.get("crop_jpeg")
            return PlateSeen(
                str(chosen[0]["text"]),
                chosen[0].get("country"),
                f"data:image/jpeg;base64,{crop}" if isinstance(crop, str) and crop else None,
            )
    return None


def plate_read(arrival: Arrival) -> str | None:
    seen = plate_seen(arrival)
    return seen.text if seen else None


def queue_entry(
    arrival: Arrival, assessed: Assessed, status: Literal["open", "reopened"]
) -> QueueEntry:
    seen = plate_seen(arrival)
    read = seen.text if seen else None
    return QueueEntry(
        arrival_id=arrival.id,
        lane=arrival.lane,
        opened_at=arrival.opened_at,
        updated_at=arrival.updated_at,
        status=status,
        plate_read=read,
        plate_read_latin=plate_latin(read),
        plate_crop=seen.crop if seen else None,
        plate_country=seen.country if seen else None,
        best=assessed.best,
        others=assessed.others,
        ambiguous=assessed.ambiguous,
        manual=assessed.manual,
        risk=assessed.risk_view,
        readings=len(arrival.readings),
    )


def arrival_detail(
    arrival: Arrival,
    assessed: Assessed,
    record: Manifest | None,
    history: Sequence[Decision],
    awaiting: bool,
    manual: ManualMatch | None,
    inspections: Sequence[InspectionResult] = (),
) -> ArrivalDetail:
    status: Literal["open", "reopened"] = (
        "reopened" if history and history[-1].kind is DecisionKind.REOPEN else "open"
    )
    return ArrivalDetail(
        entry=queue_entry(arrival, assessed, status),
        closed_at=arrival.closed_at,
        close_reason=arrival.close_reason,
        record=record_view(record) if record is not None else None,
        discrepancies=assessed.discrepancies,
        readings=[reading_view(r) for r in arrival.readings],
        decisions=[decision_view(d) for d in history],
        awaiting_decision=awaiting,
        manual_match=(
            ManualMatchView(
                officer_id=manual.officer_id,
                issuer=manual.record.issuer,
                ref=manual.record.ref,
                attached_at=manual.attached_at,
            )
            if manual is not None
            else None
        ),
        lane_minimum=lane_minimum(assessed.risk.lane),
        inspections=[inspection_view(i) for i in inspections],
        may_record_inspection=bool(history) and history[-1].kind in INSPECTED_KINDS,
    )


INSPECTED_KINDS = (DecisionKind.DOCUMENTARY_CHECK, DecisionKind.PHYSICAL_INSPECTION)


def inspection_view(result: InspectionResult) -> InspectionView:
    return InspectionView(
        id=result.id,
        officer_id=result.officer_id,
        outcome=result.outcome,
        findings=list(result.findings),
        note=result.note,
        recorded_at=result.recorded_at,
    )


def decision_view(decision: Decision) -> DecisionView:
    return DecisionView(
        id=decision.id,
        arrival_id=decision.arrival_id,
        officer_id=decision.officer_id,
        kind=decision.kind,
        reason=decision.reason,
        note=decision.note,
        issuer=decision.record.issuer if decision.record else None,
        ref=decision.record.ref if decision.record else None,
        risk_lane=decision.risk_lane,
        override=decision.override,
        decided_at=decision.decided_at,
    )


def _plate(vehicle: Vehicle | Trailer) -> PlateView:
    return PlateView(
        text=vehicle.plate, latin=plate_latin(vehicle.plate), nationality=vehicle.nationality
    )


def _party(party: Party | None) -> PartyView | None:
    if party is None:
        return None
    return PartyView(
        name=party.name, name_latin=name_latin(party.name), id=party.id, country=party.country
    )


def record_view(record: Manifest) -> RecordView:
    driver = record.driver
    return RecordView(
        ref=record.ref,
        issuer=record.issuer,
        version=record.version,
        procedure=record.procedure.value,
        expected_arrival=record.expected_arrival,
        tir_carnet=record.tir_carnet,
        cmr=record.cmr,
        office_departure=record.office_departure,
        office_destination=record.office_destination,
        office_border=record.office_border,
        transport=_plate(record.transport),
        trailers=[_plate(t) for t in record.trailers],
        driver=(
            DriverView(
                name=driver.name,
                name_latin=name_latin(driver.name),
                document_type=driver.document_type.value,
                document_number=driver.document_number,
                nationality=driver.nationality,
                birth_date=driver.birth_date,
            )
            if driver is not None
            else None
        ),
        carrier=_party(record.carrier),
        consignor=_party(record.consignor),
        consignee=_party(record.consignee),
        containers=[e.id for e in record.equipment],
        seals=[
            SealView(id=s.id, type=s.type.value, party=s.party.value if s.party else None)
            for s in record.seals
        ],
        goods=[
            GoodsView(
                seq=g.seq,
                description=g.description,
                hs_code=g.hs_code,
                packages=g.packages,
                package_type=g.package_type,
                gross_mass_kg=g.gross_mass_kg,
            )
            for g in record.goods
        ],
    )


def reading_view(reading: StoredReading) -> ReadingView:
    value, detail, state, ok = _describe(reading.kind, reading.data)
    return ReadingView(
        seq=reading.seq,
        kind=reading.kind,
        what=_what(reading.kind, reading.data),
        device=reading.device,
        at=reading.at,
        value=value,
        value_latin=plate_latin(value) if reading.kind == "plate" else name_latin(value),
        detail=detail,
        state=state,
        ok=ok,
    )


_PAYLOAD_WHAT = {"seal": "seal", "container": "container", "mrn": "transit",
                 "tir_carnet": "transit", "cmr": "transit", "transit": "transit"}  # fmt: skip


def _what(kind: str, data: Mapping[str, Any]) -> str:
    if kind != "barcode":
        return kind
    payload = data.get("payload") or {}
    return _PAYLOAD_WHAT.get(str(payload.get("kind", "")), "code")


def _describe(kind: str, data: Mapping[str, Any]) -> tuple[str, str, str | None, bool]:
    """(value, detail, state, ok) of a stored reading; the state is a code the kiosk words."""
    if kind == "plate":
        candidates = sorted(data.get("candidates", ()), key=lambda c: -float(c["confidence"]))
        value = str(candidates[0]["text"]) if candidates else ""
        detail = " · ".join(f"{c['text']} {float(c['confidence']):.2f}" for c in candidates)
        return value, detail, None, True
    if kind == "seal":
        state = data.get("state")
        return str(data["seal_id"]), "", state, state in (None, "sealed")
    if kind == "document":
        mrz = data.get("mrz") or {}
        names = " ".join(str(mrz[k]) for k in ("surname", "given_names") if mrz.get(k))
        failed = list(data.get("failed_checks", ()))
        if data.get("valid"):
            state = "valid"
        elif failed == ["not_verified"]:
            state = "not_verified"
        else:
            state = "invalid"
        return str(mrz.get("document_number") or ""), names, state, state != "invalid"
    if kind == "barcode":
        payload = data.get("payload") or {}
        ids = [payload.get(f) for f in ("mrn", "tir_carnet", "cmr")] + [
            *payload.get("seals", ()),
            *payload.get("containers", ()),
        ]
        value = next((str(i) for i in ids if i), str(data.get("text", "")))
        problems = "; ".join(str(p) for p in payload.get("problems", ()))
        return value, problems, None, bool(payload.get("valid", True))
    if kind == "presence":
        return "", "", "present" if data.get("present") else "left", True
    return str(data), "", None, True
