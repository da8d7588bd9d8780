"""A risk profile rule set: what the centre authors, signs and sends to every box of its
country, version by version. Strict and bounded: a set that breaks the model is refused whole.

A profile's criteria are ANDed; the values of one criterion are ORed (any consignor of the
list). A criterion left out matches every truck. Criteria on the e-manifest contract
(docs/emanifest.md, edge.manifest):

- `consignors`, `consignees`, `carriers`: a party's `id` exactly, or its `name` normalised
  (case, punctuation, spacing and the script ignored: Cyrillic is compared in Latin letters);
- `origin_countries`, `destination_countries`: the record has no country of origin or
  destination field; origin is the consignor's country, else the departure office's country
  (its code's first two letters); destination the consignee's, else the destination office's;
- `departure_offices`, `destination_offices`: the route, as customs office codes;
- `hs_prefixes`: any goods item's HS code starts with one of them (2 to 10 digits);
- `mass_kg_min` / `mass_kg_max`: the declared gross mass, all goods items summed;
- `discrepancies`: any of these codes (edge.discrepancies) was found at the lane;
- `history`: the truck (the record's tractor plate) at this post: at least `min_arrivals`
  arrivals in the last `days` days before this one, or any earlier red lane, or any earlier
  inspection with a finding (each asked for alone is enough: they are ORed).

Goods' country of origin, value and the driver are not criteria: the contract's record does not
carry the first two, and the driver is a person, not a risk indicator this system keeps.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    field_validator,
    model_validator,
)

from edge.codes import COUNTRIES_ALPHA2
from edge.discrepancies import DiscrepancyCode
from edge.timeutil import parse_utc

MAX_PROFILES = 20_000  # active profiles of one set
MAX_VALUES = 64  # values of one criterion
MAX_SET_VERSION = 2**63 - 1


def _country(code: str) -> str:
    if code not in COUNTRIES_ALPHA2:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _utc(value: Any) -> Any:
    if isinstance(value, str):
        return parse_utc(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value
    raise ValueError("expected an ISO 8601 time in UTC, e.g. 2026-12-01T00:00:00Z")


Name = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")]
ReasonKey = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z][A-Z0-9_]{0,47}$")]
PartyText = Annotated[
    str, StringConstraints(strict=True, strip_whitespace=True, min_length=1, max_length=128)
]
Country = Annotated[str, AfterValidator(_country)]
Office = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Z]{2}[A-Z0-9]{1,15}$")]
HsPrefix = Annotated[str, StringConstraints(strict=True, pattern=r"^[0-9]{2,10}$")]
Values = Field(default=(), max_length=MAX_VALUES)
Mass = Annotated[float, Field(ge=0, le=1e7, allow_inf_nan=False)]
Rate = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False)]
TargetLane = Literal["yellow", "red"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PartyMatch(_Strict):
    ids: Annotated[tuple[PartyText, ...], Values]
    names: Annotated[tuple[PartyText, ...], Values]

    @model_validator(mode="after")
    def _something(self) -> PartyMatch:
        if not self.ids and not self.names:
            raise ValueError("name at least one id or one name")
        return self


class HistoryMatch(_Strict):
    min_arrivals: Annotated[int, Field(ge=1, le=10_000, strict=True)] | None = None
    days: Annotated[int, Field(ge=1, le=366, strict=True)] = 30
    previous_red: bool = False
    previous_finding: bool = False

    @model_validator(mode="after")
    def _something(self) -> HistoryMatch:
        if self.min_arrivals is None and not (self.previous_red or self.previous_finding):
            raise ValueError("set min_arrivals, previous_red or previous_finding")
        return self


class Criteria(_Strict):
    consignors: PartyMatch | None = None
    consignees: PartyMatch | None = None
    carriers: PartyMatch | None = None
    origin_countries: Annotated[tuple[Country, ...], Values]
    destination_countries: Annotated[tuple[Country, ...], Values]
    departure_offices: Annotated[tuple[Office, ...], Values]
    destination_offices: Annotated[tuple[Office, ...], Values]
    hs_prefixes: Annotated[tuple[HsPrefix, ...], Values]
    mass_kg_min: Mass | None = None
    mass_kg_max: Mass | None = None
    discrepancies: Annotated[tuple[DiscrepancyCode, ...], Values]
    history: HistoryMatch | None = None

    @model_validator(mode="after")
    def _sane(self) -> Criteria:
        low, high = self.mass_kg_min, self.mass_kg_max
        if low is not None and high is not None and low > high:
            raise ValueError("mass_kg_min is above mass_kg_max")
        if not any(getattr(self, name) not in (None, ()) for name in type(self).model_fields):
            raise ValueError(
                "a profile needs at least one criterion (random selection is the"
                " set's random rates)"
            )
        return self


class Profile(_Strict):
    name: Name
    version: Annotated[int, Field(ge=1, le=MAX_SET_VERSION, strict=True)]
    valid_from: Annotated[dt.datetime, Field()]
    valid_until: dt.datetime | None = None
    lane: TargetLane
    reason: ReasonKey  # a short key the officer reads beside the profile's name
    criteria: Criteria

    @field_validator("valid_from", "valid_until", mode="before")
    @classmethod
    def _times(cls, value: Any) -> Any:
        return None if value is None else _utc(value)

    @model_validator(mode="after")
    def _window(self) -> Profile:
        if self.valid_until is not None and self.valid_until <= self.valid_from:
            raise ValueError("valid_until is not after valid_from")
        return self

    def valid_at(self, now: dt.datetime) -> bool:
        return self.valid_from <= now and (self.valid_until is None or now < self.valid_until)


class RandomRates(_Strict):
    """The share of otherwise green trucks sent to each lane at random."""

    yellow: Rate = 0.0
    red: Rate = 0.0

    @model_validator(mode="after")
    def _at_most_all(self) -> RandomRates:
        if self.yellow + self.red > 1:
            raise ValueError("yellow + red is more than 1")
        return self


class RuleSet(_Strict):
    """One version of a country's risk profiles: the whole set, which replaces the last."""

    country: Country
    version: Annotated[int, Field(ge=1, le=MAX_SET_VERSION, strict=True)]
    issued_at: dt.datetime
    issued_by: Annotated[str, StringConstraints(strict=True, min_length=1, max_length=64)]
    random: RandomRates = RandomRates()
    profiles: Annotated[tuple[Profile, ...], Field(max_length=MAX_PROFILES)] = ()

    @field_validator("issued_at", mode="before")
    @classmethod
    def _time(cls, value: Any) -> Any:
        return _utc(value)

    @field_validator("profiles")
    @classmethod
    def _unique(cls, profiles: tuple[Profile, ...]) -> tuple[Profile, ...]:
        seen: set[str] = set()
        for profile in profiles:
            if profile.name in seen:
                raise ValueError(f"profile {profile.name!r} appears twice")
            seen.add(profile.name)
        return profiles
