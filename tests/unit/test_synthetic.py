"""The synthetic day: valid records of every corridor country, the same day for the same seed, and
arrivals in which every way a truck can differ from its record happens."""

from __future__ import annotations

import datetime as dt
import json
import random
from collections import Counter
from pathlib import Path

import pytest

from edge.config import MatchingConfig
from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest, parse_manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.plate_formats import match_formats
from edge.plates import canonical_key
from edge.store import open_database
from edge.synthetic import (
    LOCAL_UTC_OFFSET,
    Arrival,
    Scenario,
    arrivals,
    generate_day,
    ocr_noise,
)

DAY = dt.date(2026, 11, 28)


@pytest.fixture(scope="module")
def day() -> list[Manifest]:
    return generate_day(random.Random(7), DAY, 300)


@pytest.fixture(scope="module")
def trucks(day: list[Manifest]) -> list[Arrival]:
    return arrivals(random.Random(8), day)


def test_every_generated_record_passes_the_contract_as_json(day: list[Manifest]) -> None:
    for record in day:
        assert parse_manifest(json.loads(record.to_json())) == record


def test_the_same_seed_gives_the_same_day_and_arrivals() -> None:
    first = generate_day(random.Random(3), DAY, 40)
    again = generate_day(random.Random(3), DAY, 40)
    other = generate_day(random.Random(4), DAY, 40)
    assert [r.to_json() for r in first] == [r.to_json() for r in again]
    assert [r.to_json() for r in first] != [r.to_json() for r in other]
    assert arrivals(random.Random(5), first) == arrivals(random.Random(5), again)


def test_refs_and_plates_are_unique_within_the_day(day: list[Manifest]) -> None:
    assert len({r.ref for r in day}) == len(day)
    keys = [canonical_key(plate) for r in day for _, plate in r.plates()]
    assert len(set(keys)) == len(keys)


def test_the_day_has_trucks_of_every_corridor_country(day: list[Manifest]) -> None:
    countries = Counter(r.transport.nationality for r in day)
    assert set(countries) == {"KZ", "CN", "KG", "UZ", "TJ", "MN", "AZ", "RU"}


def test_every_plate_fits_a_format_of_its_country(day: list[Manifest]) -> None:
    for record in day:
        vehicles = [(record.transport.plate, record.transport.nationality)]
        vehicles += [(t.plate, t.nationality) for t in record.trailers]
        for plate, country in vehicles:
            assert country in {f.country for f in match_formats(plate)}, plate


def test_some_records_write_their_plates_in_cyrillic(day: list[Manifest]) -> None:
    def cyrillic(plate: str) -> bool:
        return any("\u0400" <= ch <= "\u04ff" for ch in plate)

    written = Counter((r.transport.nationality, cyrillic(r.transport.plate)) for r in day)
    assert written[("RU", True)]
    assert written[("RU", False)]
    assert written[("KZ", True)] + written[("KG", True)] > 0
    assert written[("MN", True)]
    assert not written[("MN", False)]


def test_the_day_looks_like_a_border_day(day: list[Manifest]) -> None:
    assert sum(1 for r in day if r.trailers) > 0.7 * len(day)
    assert any(r.equipment for r in day)
    seal_types = {s.type.value for r in day for s in r.seals}
    assert seal_types == {"mechanical", "electronic"}
    assert all(r.driver is None or r.driver.document_number.isalnum() for r in day)
    local_days = {(r.expected_arrival + LOCAL_UTC_OFFSET).date() for r in day}
    assert local_days == {DAY}
    assert sorted(r.expected_arrival for r in day) == [r.expected_arrival for r in day]


def test_every_scenario_and_so_every_discrepancy_code_is_in_the_arrivals(
    trucks: list[Arrival],
) -> None:
    assert {a.scenario for a in trucks} == set(Scenario)
    assert set().union(*(a.expected for a in trucks)) == set(DiscrepancyCode)


def test_arrivals_of_each_scenario_differ_from_their_record_as_the_scenario_says(
    trucks: list[Arrival], day: list[Manifest]
) -> None:
    window = MatchingConfig()
    refs = {r.ref for r in day}
    for arrival in trucks:
        record, obs = arrival.record, arrival.observation
        assert obs.at is not None
        hours = (obs.at - record.expected_arrival).total_seconds() / 3600
        inside = -window.early_hours <= hours <= window.late_hours
        assert inside == (arrival.scenario is not Scenario.OUTSIDE_WINDOW)
        assert (arrival.ref in refs) == (arrival.scenario is not Scenario.NO_PRE_ARRIVAL)
        record_seals = {s.id for s in record.seals}
        if arrival.scenario is Scenario.SEAL_MISSING:
            assert obs.seals
            assert set(obs.seals) < record_seals
        if arrival.scenario is Scenario.SEAL_REPLACED:
            assert set(obs.seals) - record_seals
            assert record_seals - set(obs.seals)
        if arrival.scenario is Scenario.OTHER_DRIVER:
            assert record.driver is None or obs.document != record.driver.document_number
        if arrival.scenario is Scenario.MISREAD:
            assert all(canonical_key(r.text) != canonical_key(record.transport.plate)
                       for r in obs.plates)  # fmt: skip


def test_trucks_without_a_record_have_plates_of_no_record(
    trucks: list[Arrival], day: list[Manifest]
) -> None:
    keys = {canonical_key(plate) for r in day for _, plate in r.plates()}
    unknown = [a for a in trucks if a.scenario is Scenario.NO_PRE_ARRIVAL]
    assert unknown
    assert all(canonical_key(a.record.transport.plate) not in keys for a in unknown)


def test_the_camera_reads_cyrillic_look_alikes_as_latin() -> None:
    rng = random.Random(1)
    reads = {ocr_noise(rng, "А 777 ВС 02", confusion_rate=0, edit_rate=0) for _ in range(50)}
    assert reads <= {"A777BC02", "A 777 BC 02"}
    assert "A777BC02" in reads


def test_the_matcher_names_what_each_scenario_did(tmp_path: Path) -> None:
    records = generate_day(random.Random(11), DAY, 80)
    trucks = arrivals(random.Random(12), records, fault_rate=0.5)
    engine = open_database(tmp_path)
    try:
        cache = ManifestCache(engine)
        cache.upsert(records)
        matcher = Matcher(cache, MatchingConfig())
        named: Counter[Scenario] = Counter()
        for arrival in trucks:
            result = matcher.match(arrival.observation)
            mine = [c for c in result.candidates if c.ref == arrival.ref]
            codes = {d.code for d in result.discrepancies}
            codes |= {d.code for c in mine for d in c.discrepancies}
            if arrival.expected <= codes:
                named[arrival.scenario] += 1
    finally:
        engine.dispose()
    assert set(named) == set(Scenario)
    assert sum(named.values()) >= 0.9 * len(trucks)
