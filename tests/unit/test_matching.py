"""Matching arriving trucks to pre-arrival records, as the lane sees them."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from edge.config import MatchingConfig
from edge.discrepancies import DiscrepancyCode as Code
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher, Observation, PlateRead, plate_similarity
from edge.plates import KEY_FOLDS
from tests.fixtures.records import record

ARRIVAL = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)


def store(cache: ManifestCache, *records: dict[str, Any]) -> None:
    cache.upsert([parse_manifest(r) for r in records])


def truck(ref: str, plate: str, **changes: Any) -> dict[str, Any]:
    return record(ref=ref, transport={"plate": plate, "nationality": "KZ"}, **changes)


def match(cache: ManifestCache, *reads: str | PlateRead, **kw: Any) -> Any:
    plates = tuple(r if isinstance(r, PlateRead) else PlateRead(r, 0.9) for r in reads)
    return Matcher(cache).match(Observation(plates, at=kw.pop("at", ARRIVAL), **kw))


def codes(candidate: Any) -> list[str]:
    return [d.code for d in candidate.discrepancies]


def test_truck_with_cyrillic_plate_matches_latin_ocr_read(cache: ManifestCache) -> None:
    store(cache, truck("CYR", "А 777 ВС 02"), truck("OTHER", "555 KMN 01"))
    result = match(cache, "A777BC02")
    assert result.best.ref == "CYR"
    assert result.best.plate == "А 777 ВС 02"
    assert Code.PLATE_APPROXIMATE not in codes(result.best)


@pytest.mark.parametrize(("right", "wrong"), [(g[0], c) for g in KEY_FOLDS for c in g[1:]])
def test_each_ocr_confusion_still_matches(cache: ManifestCache, right: str, wrong: str) -> None:
    plate = f"12{right}ABC02" if right.isalpha() else f"1{right}3KMC02"
    store(cache, truck("T", plate), truck("DECOY", "999 XYZ 09"))
    result = match(cache, plate.replace(right, wrong, 1))
    assert result.best.ref == "T"
    assert result.best.score > 0.8
    assert codes(result.best) == [Code.PLATE_APPROXIMATE]


@pytest.mark.parametrize("read", ["77ABC02", "7777ABC02", "777ABC2", "X777ABC02", "777AXC02"])
def test_one_missing_extra_or_wrong_character_still_matches(
    cache: ManifestCache, read: str
) -> None:
    store(cache, truck("T", "777 ABC 02"), truck("DECOY", "123 KMN 05"))
    assert match(cache, read).best.ref == "T"


def test_two_unexplained_errors_are_not_a_match(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    result = match(cache, "777XYC02")
    assert result.candidates == []
    assert [d.code for d in result.discrepancies] == [Code.NO_PRE_ARRIVAL]


def test_confusion_costs_less_than_another_edit() -> None:
    assert plate_similarity("777ABC02", "777 ABC 02") == 1.0
    assert plate_similarity("777A8C02", "777ABC02") > plate_similarity("777AXC02", "777ABC02")


def test_trailer_plate_alone_finds_the_record(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02", trailers=[{"plate": "02 1234 AB", "nationality": "KZ"}]))
    result = match(cache, PlateRead("021234AB", 0.9, "trailer"))
    assert result.best.ref == "T"
    assert result.best.plate == "02 1234 AB"


def test_tractor_and_trailer_together_beat_tractor_alone(cache: ManifestCache) -> None:
    trailer = [{"plate": "02 1234 AB", "nationality": "KZ"}]
    store(cache, truck("BOTH", "777 ABC 02", trailers=trailer))
    alone = match(cache, PlateRead("777ABC02", 0.8)).best.score
    both = match(cache, PlateRead("777ABC02", 0.8), PlateRead("021234AB", 0.8, "trailer"))
    assert both.best.score > alone


def test_trailer_read_that_fits_no_trailer_is_a_discrepancy(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02", trailers=[{"plate": "02 1234 AB", "nationality": "KZ"}]))
    result = match(cache, "777ABC02", PlateRead("05 9999 KM", 0.9, "trailer"))
    assert result.best.ref == "T"
    assert Code.TRAILER_MISMATCH in codes(result.best)


def test_record_expected_now_wins_over_yesterdays_with_the_same_plate(cache: ManifestCache) -> None:
    yesterday = (ARRIVAL - dt.timedelta(hours=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    store(
        cache,
        truck("TODAY", "777 ABC 02"),
        truck("YESTERDAY", "777 ABC 02", expected_arrival=yesterday),
    )
    result = match(cache, "777ABC02")
    assert [c.ref for c in result.candidates] == ["TODAY", "YESTERDAY"]


def test_truck_far_outside_its_window_is_named(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    result = match(cache, "777ABC02", at=ARRIVAL + dt.timedelta(days=3))
    assert Code.OUTSIDE_ARRIVAL_WINDOW in codes(result.best)


def test_seals_read_against_the_record(cache: ManifestCache) -> None:
    seals = [{"id": "KZC1234567"}, {"id": "KZC7654321", "type": "electronic"}]
    store(cache, truck("T", "777 ABC 02", seals=seals))
    result = match(cache, "777ABC02", seals=("kzc-1234567", "XXX000"))
    assert result.best.ref == "T"
    details = {(d.code, d.expected or d.observed) for d in result.best.discrepancies}
    assert details == {(Code.SEAL_MISSING, "KZC7654321"), (Code.SEAL_UNEXPECTED, "XXX000")}


def test_all_seals_and_document_read_leave_no_discrepancy(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    result = match(cache, "777ABC02", seals=("KZC1234567",), document="N12345678")
    assert codes(result.best) == []
    assert result.best.score == pytest.approx(0.6 * 0.9 + 0.1 * 1.0 + 0.3 * 1.0)


def test_wrong_driver_document_is_named(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    result = match(cache, "777ABC02", document="N99999999")
    assert codes(result.best) == [Code.DRIVER_DOCUMENT_MISMATCH]


def test_unreadable_plate_found_by_seal_and_document(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"), truck("DECOY", "123 KMN 05", seals=[{"id": "Z1"}]))
    result = match(cache, seals=("KZC1234567",), document="N12345678")
    assert result.best.ref == "T"


def test_truck_with_no_record_is_named(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    result = match(cache, "01 KG 555 AAA")
    assert result.candidates == []
    assert result.discrepancies[0].code == Code.NO_PRE_ARRIVAL


def test_two_trucks_one_plate_is_ambiguous(cache: ManifestCache) -> None:
    store(cache, truck("A", "777 ABC 02"), truck("B", "777 ABC 02", issuer="KZ-NURZHOLY-1"))
    result = match(cache, "777ABC02")
    assert result.ambiguous
    assert {c.ref for c in result.candidates} == {"A", "B"}


def test_index_follows_replacement_and_purge(cache: ManifestCache) -> None:
    store(cache, truck("T", "111 AAA 01"))
    assert match(cache, "111AAA01").best.ref == "T"  # the index is now warm
    store(cache, truck("T", "222 BBB 02", version=2))
    assert match(cache, "111AAA01").candidates == []
    assert match(cache, "222BBB02").best.ref == "T"
    cache.purge(ARRIVAL + dt.timedelta(days=1))
    assert match(cache, "222BBB02").candidates == []


def test_candidates_below_min_score_are_not_shown(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    weak = Observation((PlateRead("777AXC02", 0.3),), at=ARRIVAL)
    assert Matcher(cache, MatchingConfig(min_score=0.5)).match(weak).candidates == []


PLATE_CHARS = "0123456789ABCEHKMPTX"


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    plate=st.text(PLATE_CHARS, min_size=6, max_size=9),
    confusions=st.lists(st.integers(0, 8), max_size=3),
    drop=st.one_of(st.none(), st.integers(0, 8)),
)
def test_confusions_plus_one_dropped_character_still_match(
    cache: ManifestCache, plate: str, confusions: list[int], drop: int | None
) -> None:
    swap = {g[0]: g[1] for g in KEY_FOLDS} | {g[1]: g[0] for g in KEY_FOLDS}
    read = list(plate)
    for i in confusions:
        if i < len(read):
            read[i] = swap.get(read[i], read[i])
    if drop is not None and drop < len(read):
        del read[drop]
    assume(len(read) >= 5)
    ref = f"P{plate}"
    store(cache, truck(ref, plate))
    refs = [c.ref for c in match(cache, "".join(read)).candidates]
    assert ref in refs


def test_scanned_transit_document_finds_and_confirms_its_record(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"), truck("OTHER", "555 KMN 01", tir_carnet="XA99999999"))
    by_tir = match(cache, references=("XA 8123-4567",))
    assert by_tir.best.ref == "T"
    assert codes(by_tir.best) == []
    wrong = match(cache, "777ABC02", references=("XA99999999",))
    mine = next(c for c in wrong.candidates if c.ref == "T")
    assert codes(mine) == [Code.TRANSIT_DOCUMENT_MISMATCH]


def test_no_plate_read_but_everything_checked_agrees_is_a_confident_match(
    cache: ManifestCache,
) -> None:
    store(cache, truck("T", "777 ABC 02"))
    result = match(cache, seals=("KZC1234567",), document="N12345678", references=("XA81234567",))
    assert result.best.ref == "T"
    assert codes(result.best) == []
    assert result.best.score == pytest.approx((0.1 * 1.0 + 0.3 * 1.0) / 0.4)
