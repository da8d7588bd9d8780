"""The lane: the worst of the fixed rules (edge.risk) and the profiles that select the truck,
every reason kept; a truck green by both may still be selected at random.

The random selection is ASYCUDA's: a share of the trucks that nothing else selects goes to
yellow or red, by the set's rates, so that a clean record is no guarantee of a green lane. The
draw comes from the operating system's randomness (`secrets`), not a seeded generator, so no
one can predict it, and is made once per arrival (edge.risk_profiles.store keeps it): asking
again, or reading the truck again, does not draw again.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass

from edge.risk import RiskAssessment, RiskLane, RiskReason
from edge.risk_profiles.index import ProfileHit
from edge.risk_profiles.model import RandomRates

RANDOM = "random"  # how a random selection is recorded and shown
_SCALE = 1_000_000_000  # the draw's resolution: rates are honoured to 1e-9


def draw(rates: RandomRates) -> RiskLane | None:
    """Red with probability `rates.red`, yellow with `rates.yellow`, else None."""
    value = secrets.randbelow(_SCALE)
    red = round(rates.red * _SCALE)
    if value < red:
        return RiskLane.RED
    if value < red + round(rates.yellow * _SCALE):
        return RiskLane.YELLOW
    return None


@dataclass(frozen=True)
class Selectivity:
    """The lane with every reason that gave it: the fixed rules', the profiles', random."""

    lane: RiskLane
    reasons: tuple[RiskReason, ...]  # the fixed rules' (edge.risk), worst first
    profiles: tuple[ProfileHit, ...] = ()  # worst first
    random: RiskLane | None = None  # the lane a random selection gave (only when green)
    set_version: int | None = None  # the rule set the profiles came from

    @property
    def assessment(self) -> RiskAssessment:
        return RiskAssessment(self.lane, self.reasons)


def select(
    fixed: RiskAssessment,
    hits: Sequence[ProfileHit],
    drawn: RiskLane | None,
    set_version: int | None = None,
) -> Selectivity:
    """The worst of `fixed` and `hits`; `drawn` (this arrival's draw) only when both are green."""
    lane = max((fixed.lane, *(h.lane for h in hits)), key=lambda lane: lane.severity)
    random = drawn if lane is RiskLane.GREEN and drawn is not None else None
    return Selectivity(random or lane, fixed.reasons, tuple(hits), random, set_version)
