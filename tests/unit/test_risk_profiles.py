"""Risk profiles on the box: each criterion selects what it should and nothing else, the index
agrees with checking every profile, the lane is the worst with every reason kept, the random
selection keeps its rate and is drawn once per arrival, and an older set never replaces a
newer one."""

from __future__ import annotations

import datetime as dt
import math
import random
from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError
from sqlalchemy import Engine, select

from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest, parse_manifest
from edge.risk import RiskLane, assess
from edge.risk_profiles.facts import TruckHistory, facts_of, normalise_name, truck_key
from edge.risk_profiles.index import ProfileIndex
from edge.risk_profiles.lane import draw
from edge.risk_profiles.model import RandomRates, RuleSet
from edge.risk_profiles.store import (
    ActiveProfiles,
    PartOutcome,
    Selector,
    active_version,
    store_part,
)
from edge.store import open_database
from edge.store.schema import risk_arrivals
from edge.synthetic import generate_day

NOW = dt.datetime(2026, 12, 8, 9, 0, tzinfo=dt.UTC)


def record(**changes: Any) -> Manifest:
    data: dict[str, Any] = {
        "ref": "26KZ0519342000017", "issuer": "KZ-CIS", "procedure": "import",
        "office_departure": "CN650100", "office_destination": "KZ075200",
        "office_border": "KZ051900", "expected_arrival": "2026-12-08T08:30:00Z",
        "transport": {"plate": "777 ABC 02", "nationality": "KZ"},
        "carrier": {"name": "ТОО «Алатау-Транс»", "id": "KZ-BIN-990140001234", "country": "KZ"},
        "consignor": {"name": "Urumqi Trading Co", "id": "CN-91650100", "country": "CN"},
        "consignee": {"name": "Almaty Import LLP", "id": "KZ-BIN-123", "country": "KZ"},
        "goods": [
            {"seq": 1, "description": "Phones", "hs_code": "851713", "gross_mass_kg": 900.0},
            {"seq": 2, "description": "Tyres", "hs_code": "401120", "gross_mass_kg": 9100.0},
        ],
    }  # fmt: skip
    data.update(changes)
    return parse_manifest(data)


def profile(name: str = "P1", lane: str = "red", **criteria: Any) -> dict[str, Any]:
    return {
        "name": name, "version": 3, "valid_from": "2026-12-01T00:00:00Z", "lane": lane,
        "reason": "TEST_REASON", "criteria": criteria,
    }  # fmt: skip


def rules(*profiles: dict[str, Any], version: int = 1, **extra: Any) -> RuleSet:
    return RuleSet.model_validate(
        {"country": "KZ", "version": version, "issued_at": "2026-12-01T00:00:00Z",
         "issued_by": "analyst", "profiles": list(profiles), **extra}
    )  # fmt: skip


def hits(p: dict[str, Any], facts: Any = None, now: dt.datetime = NOW) -> list[str]:
    index = ProfileIndex(rules(p))
    facts = facts if facts is not None else facts_of(record())
    found = [h.name for h in index.evaluate(facts, now)]
    assert found == [h.name for h in index.evaluate_all(facts, now)]
    return found


@pytest.mark.parametrize(
    ("criteria", "other"),
    [
        ({"consignors": {"ids": ["CN-91650100"]}}, {"consignors": {"ids": ["CN-1"]}}),
        (
            {"consignors": {"names": ["URUMQI  trading, co."]}},
            {"consignors": {"names": ["Urumqi"]}},
        ),
        ({"consignees": {"ids": ["KZ-BIN-123"]}}, {"consignees": {"ids": ["CN-91650100"]}}),
        ({"carriers": {"names": ["TOO Alatau Trans"]}}, {"carriers": {"names": ["Alatau"]}}),
        ({"origin_countries": ["CN"]}, {"origin_countries": ["KZ"]}),
        ({"destination_countries": ["KZ", "UZ"]}, {"destination_countries": ["CN"]}),
        ({"departure_offices": ["CN650100"]}, {"departure_offices": ["CN650200"]}),
        ({"destination_offices": ["KZ075200"]}, {"destination_offices": ["CN650100"]}),
        ({"hs_prefixes": ["8517"]}, {"hs_prefixes": ["8518"]}),
        ({"hs_prefixes": ["40112"]}, {"hs_prefixes": ["4011209"]}),
        ({"mass_kg_min": 9000, "mass_kg_max": 10000}, {"mass_kg_min": 10001}),
        ({"mass_kg_max": 10000}, {"mass_kg_max": 9999.9}),
    ],
)
def test_each_criterion_selects_its_truck_and_not_another(
    criteria: dict[str, Any], other: dict[str, Any]
) -> None:
    assert hits(profile(**criteria)) == ["P1"]
    assert hits(profile(**other)) == []


def test_criteria_are_all_required_and_values_any_of() -> None:
    both = profile(origin_countries=["CN"], hs_prefixes=["9999", "8517"])
    assert hits(both) == ["P1"]
    assert hits(profile(origin_countries=["CN"], hs_prefixes=["9999"])) == []


def test_origin_falls_back_to_the_departure_office_when_no_consignor_country() -> None:
    bare = record(consignor={"name": "X"}, consignee=None)
    assert hits(profile(origin_countries=["CN"]), facts_of(bare)) == ["P1"]
    assert hits(profile(destination_countries=["KZ"]), facts_of(bare)) == ["P1"]


def test_discrepancy_codes_select_from_what_the_lane_found() -> None:
    p = profile(discrepancies=["SEAL_MISSING"])
    assert hits(p, facts_of(record(), [DiscrepancyCode.SEAL_MISSING])) == ["P1"]
    assert hits(p, facts_of(record(), [DiscrepancyCode.PLATE_APPROXIMATE])) == []


def test_history_counts_arrivals_in_the_window_and_earlier_findings() -> None:
    p = profile(history={"min_arrivals": 3, "days": 7})
    recent = TruckHistory(tuple(NOW - dt.timedelta(days=d) for d in (9, 5, 2, 1)))
    older = TruckHistory(tuple(NOW - dt.timedelta(days=d) for d in (30, 9, 8, 1)))
    assert hits(p, facts_of(record(), history=recent)) == ["P1"]
    assert hits(p, facts_of(record(), history=older)) == []
    found = profile(history={"previous_finding": True})
    assert hits(found, facts_of(record(), history=TruckHistory((), False, True))) == ["P1"]
    assert hits(found, facts_of(record(), history=TruckHistory((), True, False))) == []


def test_a_profile_applies_only_within_its_validity() -> None:
    p = profile(origin_countries=["CN"]) | {"valid_until": "2026-12-10T00:00:00Z"}
    assert hits(p, now=NOW) == ["P1"]
    assert hits(p, now=dt.datetime(2026, 11, 30, tzinfo=dt.UTC)) == []
    assert hits(p, now=dt.datetime(2026, 12, 10, tzinfo=dt.UTC)) == []


def test_a_truck_without_a_record_is_checked_on_what_was_read_only() -> None:
    facts = facts_of(None, [DiscrepancyCode.NO_PRE_ARRIVAL])
    assert hits(profile(discrepancies=["NO_PRE_ARRIVAL"]), facts) == ["P1"]
    assert hits(profile(origin_countries=["CN"]), facts) == []


def test_names_compare_across_scripts_punctuation_and_case() -> None:
    assert normalise_name("ТОО «Алатау-Транс»") == normalise_name("too alatau trans")
    assert truck_key(record(), None) == truck_key(None, "777ABC02")


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ({"criteria": {}}, "at least one criterion"),
        ({"lane": "green"}, "lane"),
        ({"valid_until": "2026-11-01T00:00:00Z"}, "valid_until"),
        ({"criteria": {"hs_prefixes": ["8"]}}, "hs_prefixes"),
        ({"criteria": {"origin_countries": ["XX"]}}, "alpha-2"),
        ({"criteria": {"mass_kg_min": 5, "mass_kg_max": 4}}, "mass_kg_min"),
        ({"criteria": {"hs_prefixes": ["85"], "colour": "red"}}, "colour"),
        ({"valid_from": "2026-12-01T00:00:00"}, "valid_from"),
    ],
)
def test_a_bad_profile_is_refused_with_its_reason(bad: dict[str, Any], reason: str) -> None:
    with pytest.raises(ValidationError, match=reason):
        rules(profile(hs_prefixes=["85"]) | bad)


def test_rates_above_one_and_duplicate_names_are_refused() -> None:
    with pytest.raises(ValidationError, match="more than 1"):
        rules(random={"yellow": 0.6, "red": 0.5})
    with pytest.raises(ValidationError, match="twice"):
        rules(profile(hs_prefixes=["85"]), profile(hs_prefixes=["40"]))


def test_the_index_agrees_with_checking_every_profile_on_a_synthetic_day() -> None:
    rng = random.Random(5)
    day = generate_day(rng, NOW.date(), 200)
    pool: dict[str, list[Any]] = {
        "consignors": [{"ids": [r.consignor.id]} for r in day if r.consignor and r.consignor.id],
        "carriers": [{"names": [r.carrier.name]} for r in day if r.carrier],
        "hs_prefixes": [[g.hs_code[: rng.randint(2, 6)]] for r in day for g in r.goods],
        "origin_countries": [["KZ"], ["UZ"]],
        "destination_offices": [[r.office_destination] for r in day if r.office_destination],
        "mass_kg_min": [15000, 19000],
    }
    profiles = []
    for i in range(300):
        chosen = rng.sample(sorted(pool), k=rng.randint(2, 3))
        profiles.append(profile(f"R{i}", rng.choice(["yellow", "red"]),
                                **{k: rng.choice(pool[k]) for k in chosen}))  # fmt: skip
    index = ProfileIndex(rules(*profiles))
    selected = 0
    for r in day:
        facts = facts_of(r, [DiscrepancyCode.SEAL_MISSING] if rng.random() < 0.2 else [])
        found = index.evaluate(facts, NOW)
        assert found == index.evaluate_all(facts, NOW)
        selected += bool(found)
    assert 0 < selected < len(day)  # the comparison saw both outcomes


def test_the_lane_is_the_worst_of_fixed_rules_and_profiles_with_every_reason() -> None:
    index = ProfileIndex(
        rules(profile("Y", "yellow", hs_prefixes=["85"]), profile("R", "red", hs_prefixes=["40"]))
    )
    from edge.risk_profiles.lane import select as select_lane

    fixed = assess(0.7, [])  # yellow: LOW_SCORE
    chosen = select_lane(fixed, index.evaluate(facts_of(record()), NOW), None, 1)
    assert chosen.lane is RiskLane.RED
    assert [r.code for r in chosen.reasons] == ["LOW_SCORE"]
    assert [(h.name, h.lane) for h in chosen.profiles] == [("R", "red"), ("Y", "yellow")]
    assert chosen.random is None
    # a random draw only counts for a truck nothing else selects
    assert select_lane(assess(0.95, []), [], RiskLane.RED).random is RiskLane.RED
    assert select_lane(fixed, [], RiskLane.RED).lane is RiskLane.YELLOW


# Hoeffding: P(|share - p| >= t) <= 2 exp(-2 n t^2). With n = 40,000 draws and
# t = sqrt(ln(4e9) / 2n) = 0.0167, each of the two lanes' shares strays that far in fewer than
# 5e-10 of runs (1e-9 for both); a rate off by 0.02 or more fails nearly always.
DRAWS = 40_000
BOUND = math.sqrt(math.log(4e9) / (2 * DRAWS))


def test_the_random_selection_keeps_its_rates_within_a_binomial_bound() -> None:
    rates = RandomRates(yellow=0.10, red=0.05)
    drawn = [draw(rates) for _ in range(DRAWS)]
    assert abs(drawn.count(RiskLane.YELLOW) / DRAWS - 0.10) < BOUND
    assert abs(drawn.count(RiskLane.RED) / DRAWS - 0.05) < BOUND
    assert all(draw(RandomRates()) is None for _ in range(1000))


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(tmp_path)


def put(engine: Engine, rule_set: RuleSet, parts: int = 1) -> list[PartOutcome]:
    header = rule_set.model_dump(mode="json", exclude={"profiles"})
    profiles = [p.model_dump(mode="json") for p in rule_set.profiles]
    size = max(1, math.ceil(len(profiles) / parts))
    out = []
    with engine.begin() as conn:
        for i in range(parts):
            chunk = profiles[i * size : (i + 1) * size]
            out.append(
                store_part(conn, header=header, part=i + 1, parts=parts, profiles=chunk,
                           origin="KZ-CENTRE", now=NOW)
            )  # fmt: skip
    return out


def test_an_older_version_never_replaces_a_newer_one(engine: Engine) -> None:
    newer = rules(profile("NEW", hs_prefixes=["85"]), version=5)
    older = rules(profile("OLD", hs_prefixes=["85"]), version=4)
    assert put(engine, newer) == [PartOutcome.ACTIVATED]
    assert put(engine, older) == [PartOutcome.OUTDATED]
    assert put(engine, newer) == [PartOutcome.OUTDATED]
    active = ActiveProfiles()
    with engine.connect() as conn:
        assert active_version(conn) == 5
        index = active.index(conn)
        assert index is not None
        assert [p.name for p in index.rules.profiles] == ["NEW"]


def test_a_set_in_parts_is_active_only_when_whole(engine: Engine) -> None:
    big = rules(*(profile(f"P{i}", hs_prefixes=["85"]) for i in range(10)), version=2)
    assert put(engine, big, parts=3) == [PartOutcome.STORED] * 2 + [PartOutcome.ACTIVATED]
    active = ActiveProfiles()
    with engine.connect() as conn:
        index = active.index(conn)
        assert index is not None
        assert len(index.rules.profiles) == 10
    put(engine, rules(profile("ONLY", hs_prefixes=["85"]), version=3))
    with engine.connect() as conn:  # the cache follows the new version
        index = active.index(conn)
        assert index is not None
        assert [p.name for p in index.rules.profiles] == ["ONLY"]


def test_an_arrival_is_drawn_once_and_its_random_selection_recorded(engine: Engine) -> None:
    put(engine, rules(random={"red": 1.0}))
    selector = Selector(ActiveProfiles())
    green = assess(0.95, [])
    with engine.begin() as conn:
        first = selector.select(conn, 1, NOW, "777ABC02", green, facts_of(record()), NOW)
    assert first.lane is RiskLane.RED
    assert first.random is RiskLane.RED
    put(engine, rules(random={"red": 0.0}, version=2))
    with engine.begin() as conn:  # a new set does not draw again for the same arrival
        again = selector.select(conn, 1, NOW, "777ABC02", green, facts_of(record()), NOW)
        other = selector.select(conn, 2, NOW, "777ABC02", green, facts_of(record()), NOW)
        row = conn.execute(select(risk_arrivals).where(risk_arrivals.c.arrival_id == 1)).one()
    assert again.random is RiskLane.RED
    assert other.random is None
    assert (row.draw, row.random, row.lane) == ("red", "red", "red")


def test_the_trucks_history_at_the_post_comes_from_the_store(engine: Engine) -> None:
    put(engine, rules(profile("OFTEN", "yellow", history={"min_arrivals": 2, "days": 7})))
    selector = Selector(ActiveProfiles())
    green = assess(0.95, [])
    lanes = []
    with engine.begin() as conn:
        for arrival_id, days_ago in enumerate((3, 2, 1), start=1):
            at = NOW - dt.timedelta(days=days_ago)
            chosen = selector.select(conn, arrival_id, at, "777ABC02", green,
                                     facts_of(record()), at)  # fmt: skip
            lanes.append(chosen.lane)
        elsewhere = selector.select(conn, 9, NOW, "OTHER1", green, facts_of(record()), NOW)
    assert lanes == [RiskLane.GREEN, RiskLane.GREEN, RiskLane.YELLOW]
    assert elsewhere.lane is RiskLane.GREEN
