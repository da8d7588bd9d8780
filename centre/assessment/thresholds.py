"""The minimum score an area must reach for each pilot, per area, in a TOML file
(`data/thresholds-default.toml` holds the defaults written out; copy and edit it).

The framework did not publish its values; ours read the 1-5 scale by its whole points, a score
standing for the point it rounds to: 1 "not in place" is at risk, 2 "initial" is enough for
the simple pilot (manual review of files, no integration), 3 "defined" for the complex one.
So SIE needs 1.5 and CIE 2.5 in every area, and CIE needs 3.5 ("managed") in the three areas
its definition leans on: real-time two-way exchange (Information Technology), integration with
the risk management system (Customs Risk Management) and its security features (Security,
Privacy and Confidentiality). A partial assessment makes a country an SIE candidate at most:
the areas it left unscored cannot show the complex pilot's minimums."""

from __future__ import annotations

from decimal import Decimal
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from centre.assessment.areas import AREA_BY_KEY, AREAS, Area
from edge.config import parse_toml_model, read_config_text

DEFAULTS_FILE = Path(__file__).parent / "data" / "thresholds-default.toml"


class Level(StrEnum):
    """What a score, a country or a pair is ready for, lowest first."""

    NOT_YET = "not_yet"  # an area below SIE's minimum: at risk
    SIE = "sie"
    CIE = "cie"

    @property
    def rank(self) -> int:
        return list(Level).index(self)


Minimum = Annotated[Decimal, Field(ge=1, le=5, decimal_places=2)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AreaMinimums(_Model):
    """[areas.<key>]: this area's own minimums (what it leaves out, the top level's)."""

    sie: Minimum | None = None
    cie: Minimum | None = None


DEFAULT_RAISES = {
    key: AreaMinimums(cie=Decimal("3.5"))
    for key in ("information_technology", "customs_risk_management", "security_privacy")
}


class Thresholds(_Model):
    sie: Minimum = Decimal("1.5")  # every area, unless [areas.<key>] says otherwise
    cie: Minimum = Decimal("2.5")
    # The highest candidacy a partial assessment gives its country.
    partial_at_most: Literal["not_yet", "sie", "cie"] = "sie"
    areas: dict[str, AreaMinimums] = Field(default_factory=lambda: dict(DEFAULT_RAISES))

    @field_validator("areas")
    @classmethod
    def _known_areas(cls, value: dict[str, AreaMinimums]) -> dict[str, AreaMinimums]:
        unknown = sorted(set(value) - set(AREA_BY_KEY))
        if unknown:
            raise ValueError(
                f"unknown area key {', '.join(unknown)}; the keys are {', '.join(AREA_BY_KEY)}"
            )
        return value

    @model_validator(mode="after")
    def _sie_not_above_cie(self) -> Thresholds:
        for area in AREAS:
            if self.minimum(area, Level.SIE) > self.minimum(area, Level.CIE):
                raise ValueError(f"areas.{area.key}: the SIE minimum is above the CIE minimum")
        return self

    def minimum(self, area: Area, level: Level) -> Decimal:
        """The score `area` needs for `level` (SIE or CIE)."""
        own = self.areas.get(area.key)
        value = getattr(own, level.value) if own is not None else None
        default: Decimal = self.sie if level is Level.SIE else self.cie
        return value if value is not None else default

    @property
    def partial_cap(self) -> Level:
        return Level(self.partial_at_most)

    def table(self) -> list[tuple[Area, Decimal, Decimal]]:
        """(area, SIE minimum, CIE minimum) for every area, in the framework's order."""
        return [(a, self.minimum(a, Level.SIE), self.minimum(a, Level.CIE)) for a in AREAS]


def load_thresholds(path: Path) -> Thresholds:
    """The thresholds in `path`, or edge.config.ConfigError naming each bad key."""
    return parse_toml_model(read_config_text(path), path, Thresholds)


def parse_thresholds(text: str, name: str = "thresholds.toml") -> Thresholds:
    return parse_toml_model(text, Path(name), Thresholds)
