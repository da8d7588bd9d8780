"""Risk lanes: green, yellow or red for a truck, with the reasons, as ASYCUDA's selectivity does.

The rule reads the truck's match (the best candidate's score, its discrepancies, whether the
match was ambiguous or attached by hand) and nothing else:

- red: no pre-arrival record fits (NO_PRE_ARRIVAL), a seal is missing or unexpected, the
  driver's or the transit document is not the record's, or the trailer is not the record's;
- yellow: only low-severity discrepancies (the plate read differs from the record's as written,
  the truck is outside its arrival window), or the match is not certain enough to trust alone
  (score below GREEN_MIN_SCORE, two candidates within the ambiguity margin, a record attached
  by hand);
- green: a best match scoring GREEN_MIN_SCORE or more, unambiguous, with no discrepancies.

The lane is the worst any reason gives. Each reason is a stable code (a discrepancy code or one
of the MatchDoubt codes) that the kiosk turns into a sentence in the officer's language.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

from edge.discrepancies import DiscrepancyCode

GREEN_MIN_SCORE = 0.8


class RiskLane(StrEnum):
    GREEN = "green"
    YELLOW = "yellow"
    RED = "red"

    @property
    def severity(self) -> int:
        return _SEVERITY[self]


_SEVERITY = {RiskLane.GREEN: 0, RiskLane.YELLOW: 1, RiskLane.RED: 2}


class MatchDoubt(StrEnum):
    """Reasons for yellow that are about the match itself, not a discrepancy."""

    LOW_SCORE = "LOW_SCORE"  # the best match scores below GREEN_MIN_SCORE
    AMBIGUOUS = "AMBIGUOUS"  # two candidates too close to tell apart
    MANUAL_MATCH = "MANUAL_MATCH"  # an officer attached the record by hand


DISCREPANCY_LANES: dict[DiscrepancyCode, RiskLane] = {
    DiscrepancyCode.NO_PRE_ARRIVAL: RiskLane.RED,
    DiscrepancyCode.SEAL_MISSING: RiskLane.RED,
    DiscrepancyCode.SEAL_UNEXPECTED: RiskLane.RED,
    DiscrepancyCode.DRIVER_DOCUMENT_MISMATCH: RiskLane.RED,
    DiscrepancyCode.TRANSIT_DOCUMENT_MISMATCH: RiskLane.RED,
    DiscrepancyCode.TRAILER_MISMATCH: RiskLane.RED,
    DiscrepancyCode.PLATE_APPROXIMATE: RiskLane.YELLOW,
    DiscrepancyCode.OUTSIDE_ARRIVAL_WINDOW: RiskLane.YELLOW,
}


@dataclass(frozen=True)
class RiskReason:
    code: str  # a DiscrepancyCode or MatchDoubt value
    lane: RiskLane


@dataclass(frozen=True)
class RiskAssessment:
    lane: RiskLane
    reasons: tuple[RiskReason, ...]  # worst first; empty for green


def assess(
    score: float | None,
    discrepancies: Iterable[DiscrepancyCode],
    *,
    ambiguous: bool = False,
    manual: bool = False,
) -> RiskAssessment:
    """The lane of a truck whose best match scored `score` (None: nothing matched)."""
    reasons = [
        RiskReason(code.value, DISCREPANCY_LANES[code]) for code in dict.fromkeys(discrepancies)
    ]
    if score is None and not reasons:
        reasons.append(RiskReason(DiscrepancyCode.NO_PRE_ARRIVAL.value, RiskLane.RED))
    if score is not None and score < GREEN_MIN_SCORE and not manual:
        reasons.append(RiskReason(MatchDoubt.LOW_SCORE.value, RiskLane.YELLOW))
    if ambiguous and not manual:
        reasons.append(RiskReason(MatchDoubt.AMBIGUOUS.value, RiskLane.YELLOW))
    if manual:
        reasons.append(RiskReason(MatchDoubt.MANUAL_MATCH.value, RiskLane.YELLOW))
    reasons.sort(key=lambda r: -r.lane.severity)
    lane = reasons[0].lane if reasons else RiskLane.GREEN
    return RiskAssessment(lane, tuple(reasons))
