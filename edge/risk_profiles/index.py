"""The active rules indexed so that a truck is checked against the few that could fit it.

Each profile is filed under one criterion of its own (its "anchor"): the one whose values are
rarest across the set (a consignor's id before a country). A truck's keys (its parties' ids and
names, offices, countries, every prefix of each HS code, its discrepancy codes) are looked up
in one dict; the profiles found there, and the few with range or history criteria only, are
checked in full. 10,000 profiles cost a truck a few dozen dict lookups and a handful of full
checks instead of 10,000 (tests/bench/bench_risk_profiles.py measures both).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from edge.risk import RiskLane
from edge.risk_profiles.facts import PartyKeys, TruckFacts, normalise_name
from edge.risk_profiles.model import PartyMatch, Profile, RuleSet

Key = tuple[str, str]


@dataclass(frozen=True)
class ProfileHit:
    """A profile that selected a truck: shown to the officer and kept with the decision."""

    name: str
    version: int
    lane: RiskLane
    reason: str


def _party_keys(field: str, match: PartyMatch | None) -> list[Key]:
    if match is None:
        return []
    return [(f"{field}.id", v) for v in match.ids] + [
        (f"{field}.name", normalise_name(v)) for v in match.names
    ]


@dataclass(frozen=True)
class CompiledProfile:
    profile: Profile
    hit: ProfileHit
    # field -> accepted keys, for every criterion the profile names
    keyed: tuple[tuple[str, frozenset[Key]], ...]
    hs_prefixes: tuple[str, ...]
    mass_min: float | None
    mass_max: float | None

    @classmethod
    def of(cls, profile: Profile) -> CompiledProfile:
        c = profile.criteria
        fields = {
            "consignor": _party_keys("consignor", c.consignors),
            "consignee": _party_keys("consignee", c.consignees),
            "carrier": _party_keys("carrier", c.carriers),
            "origin": [("origin", v) for v in c.origin_countries],
            "destination": [("destination", v) for v in c.destination_countries],
            "departure": [("departure", v) for v in c.departure_offices],
            "arrival_office": [("arrival_office", v) for v in c.destination_offices],
            "hs": [("hs", v) for v in c.hs_prefixes],
            "discrepancy": [("discrepancy", v.value) for v in c.discrepancies],
        }
        keyed = tuple((name, frozenset(keys)) for name, keys in fields.items() if keys)
        hit = ProfileHit(profile.name, profile.version, RiskLane(profile.lane), profile.reason)
        return cls(profile, hit, keyed, c.hs_prefixes, c.mass_kg_min, c.mass_kg_max)

    def matches(self, facts: TruckFacts, keys: dict[str, set[Key]], now: dt.datetime) -> bool:
        profile = self.profile
        if now < profile.valid_from or (
            profile.valid_until is not None and now >= profile.valid_until
        ):
            return False
        for name, accepted in self.keyed:
            if accepted.isdisjoint(keys.get(name, ())):
                return False
        if self.mass_min is not None or self.mass_max is not None:
            mass = facts.mass_kg
            if mass is None:
                return False
            if self.mass_min is not None and mass < self.mass_min:
                return False
            if self.mass_max is not None and mass > self.mass_max:
                return False
        history = self.profile.criteria.history
        if history is not None:
            h = facts.history
            often = history.min_arrivals is not None and (
                h.arrivals_since(now - dt.timedelta(days=history.days)) >= history.min_arrivals
            )
            if not (
                often
                or (history.previous_red and h.red_before)
                or (history.previous_finding and h.finding_before)
            ):
                return False
        return True


def _party(field: str, party: PartyKeys | None) -> Iterator[Key]:
    if party is None:
        return
    if party.id:
        yield (f"{field}.id", party.id)
    if party.name:
        yield (f"{field}.name", party.name)


def truck_keys(facts: TruckFacts) -> dict[str, set[Key]]:
    """The truck's keys by field, each as the index files them."""
    keys: dict[str, set[Key]] = {
        "consignor": set(_party("consignor", facts.consignor)),
        "consignee": set(_party("consignee", facts.consignee)),
        "carrier": set(_party("carrier", facts.carrier)),
        "hs": {("hs", code[:n]) for code in facts.hs_codes for n in range(2, len(code) + 1)},
        "discrepancy": {("discrepancy", code) for code in facts.discrepancies},
    }
    for name, value in (
        ("origin", facts.origin_country),
        ("destination", facts.destination_country),
        ("departure", facts.departure_office),
        ("arrival_office", facts.destination_office),
    ):
        keys[name] = {(name, value)} if value else set()
    return keys


def _order(hits: Iterable[ProfileHit]) -> list[ProfileHit]:
    return sorted(hits, key=lambda h: (-h.lane.severity, h.name))


class ProfileIndex:
    """The profiles of one rule set, indexed. Built once per set version (off the hot path)."""

    def __init__(self, rules: RuleSet) -> None:
        self.rules = rules
        self.compiled = [CompiledProfile.of(p) for p in rules.profiles]
        frequency: Counter[Key] = Counter(
            key for c in self.compiled for _, keys in c.keyed for key in keys
        )
        self.buckets: dict[Key, list[int]] = {}
        self.unanchored: list[int] = []  # range and history criteria only
        for i, compiled in enumerate(self.compiled):
            if not compiled.keyed:
                self.unanchored.append(i)
                continue
            _, anchor = min(compiled.keyed, key=lambda f: sum(frequency[k] for k in f[1]))
            for key in anchor:
                self.buckets.setdefault(key, []).append(i)

    @property
    def version(self) -> int:
        return self.rules.version

    def evaluate(self, facts: TruckFacts, now: dt.datetime) -> list[ProfileHit]:
        """The profiles that select the truck, worst lane first."""
        keys = truck_keys(facts)
        candidates: set[int] = set(self.unanchored)
        buckets = self.buckets
        for field_keys in keys.values():
            for key in field_keys:
                found = buckets.get(key)
                if found:
                    candidates.update(found)
        compiled = self.compiled
        return _order(compiled[i].hit for i in candidates if compiled[i].matches(facts, keys, now))

    def evaluate_all(self, facts: TruckFacts, now: dt.datetime) -> list[ProfileHit]:
        """The same answer by checking every profile: the reference the index must agree with,
        and the benchmark's baseline."""
        keys = truck_keys(facts)
        return _order(c.hit for c in self.compiled if c.matches(facts, keys, now))
