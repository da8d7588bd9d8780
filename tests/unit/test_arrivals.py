"""Arrivals at a lane: readings attach to the truck there and its match follows them."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine

from edge.arrivals import ArrivalStore, Lanes
from edge.discrepancies import DiscrepancyCode as Code
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.readings import (
    BarcodeRead,
    DocumentRead,
    PlateCandidate,
    PlateReading,
    PresenceChange,
    SealRead,
    SealState,
    reading_from_dict,
)
from edge.timeutil import utcnow
from tests.fixtures.records import record

T0 = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)


def at(seconds: float) -> dt.datetime:
    return T0 + dt.timedelta(seconds=seconds)


@pytest.fixture
def lanes(engine: Engine, cache: ManifestCache) -> Lanes:
    cache.upsert(
        [
            parse_manifest(record(ref="T1")),
            parse_manifest(
                record(
                    ref="T2",
                    transport={"plate": "555 KMN 01", "nationality": "KZ"},
                    seals=[],
                    driver=None,
                    tir_carnet=None,
                )
            ),
        ]
    )
    return Lanes(ArrivalStore(engine), Matcher(cache), idle_timeout=dt.timedelta(minutes=30))


def plate(text: str, seconds: float, confidence: float = 0.9) -> PlateReading:
    return PlateReading("cam-1", at(seconds), (PlateCandidate(text, confidence, "tractor"),))


def test_camera_trigger_opens_and_readings_refine_the_match(lanes: Lanes) -> None:
    arrival_id = lanes.on_reading("1", PresenceChange("cam-1", at(0), True))
    assert arrival_id is not None
    assert lanes.on_reading("1", plate("777ABC02", 1)) == arrival_id
    arrival = lanes.store.get(arrival_id)
    assert arrival is not None
    assert (arrival.opened_by, arrival.best_ref) == ("camera", "T1")
    seal = SealRead("eseal-1", at(5), "KZC1234567", electronic=False)
    passport = DocumentRead("mrz-1", at(9), {"document_number": "N99999999"}, valid=True)
    lanes.on_reading("1", seal)
    lanes.on_reading("1", passport)
    arrival = lanes.store.get(arrival_id)
    assert arrival is not None
    assert [r.kind for r in arrival.readings] == ["plate", "seal", "document"]
    best = arrival.match["candidates"][0]  # type: ignore[index]
    assert best["ref"] == "T1"
    assert [d["code"] for d in best["discrepancies"]] == [Code.DRIVER_DOCUMENT_MISMATCH]


def test_a_reading_with_no_truck_open_opens_one(lanes: Lanes) -> None:
    arrival_id = lanes.on_reading(
        "2",
        BarcodeRead(
            "scan-1",
            at(0),
            "XA81234567",
            "code128",
            payload={"kind": "tir_carnet", "valid": True, "tir_carnet": "XA81234567"},
        ),
    )
    arrival = lanes.store.get(arrival_id)  # type: ignore[arg-type]
    assert arrival is not None
    assert arrival.opened_by == "barcode"
    assert arrival.best_ref == "T1"


def test_trigger_while_a_truck_is_open_does_not_open_another(lanes: Lanes) -> None:
    first = lanes.on_reading("1", PresenceChange("cam-1", at(0), True))
    lanes.on_reading("1", PresenceChange("cam-1", at(3), False))
    assert lanes.on_reading("1", PresenceChange("cam-1", at(4), True)) == first
    assert lanes.store.open_arrivals() == [first]


def test_decision_closes_and_the_next_truck_is_a_new_arrival(lanes: Lanes) -> None:
    first = lanes.on_reading("1", plate("777ABC02", 0))
    assert first is not None
    assert lanes.close(first, "decision")
    assert not lanes.close(first, "decision")  # closing twice is refused
    second = lanes.on_reading("1", plate("555KMN01", 60))
    assert second not in (None, first)
    assert lanes.store.get(second).best_ref == "T2"  # type: ignore[arg-type, union-attr]


def test_lanes_are_independent(lanes: Lanes) -> None:
    one = lanes.on_reading("1", plate("777ABC02", 0))
    two = lanes.on_reading("2", plate("555KMN01", 0))
    assert one != two
    assert lanes.store.get(one).best_ref == "T1"  # type: ignore[arg-type, union-attr]
    assert lanes.store.get(two).best_ref == "T2"  # type: ignore[arg-type, union-attr]


def test_idle_arrivals_time_out(lanes: Lanes) -> None:
    arrival_id = lanes.on_reading("1", plate("777ABC02", 0))
    assert lanes.expire_idle(utcnow()) == []
    assert lanes.expire_idle(utcnow() + dt.timedelta(minutes=31)) == [arrival_id]
    arrival = lanes.store.get(arrival_id)  # type: ignore[arg-type]
    assert arrival is not None
    assert arrival.close_reason == "timeout"


def test_manual_open_supersedes_the_open_arrival(lanes: Lanes) -> None:
    first = lanes.on_reading("1", plate("777ABC02", 0))
    second = lanes.open("1")
    assert lanes.store.get(first).close_reason == "superseded"  # type: ignore[arg-type, union-attr]
    assert lanes.store.open_arrivals() == [second]


def test_an_arrival_survives_a_restart(lanes: Lanes, engine: Engine, cache: ManifestCache) -> None:
    arrival_id = lanes.on_reading("1", plate("777ABC02", 0))
    restarted = Lanes(ArrivalStore(engine), Matcher(cache), dt.timedelta(minutes=30))
    restarted.on_reading(
        "1", SealRead("eseal-1", at(5), "KZC1234567", electronic=True, state=SealState.SEALED)
    )
    arrival = restarted.store.get(arrival_id)  # type: ignore[arg-type]
    assert arrival is not None
    assert arrival.best_ref == "T1"
    assert arrival.match["candidates"][0]["discrepancies"] == []  # type: ignore[index]


@pytest.mark.parametrize(
    "reading",
    [
        BarcodeRead(
            "s", T0, "X", "qr", "]Q1", "zbar", {"kind": "seal", "valid": True, "seals": ["X"]}
        ),
        DocumentRead(
            "m", T0, {"document_number": "N1", "surname": "IVANOV"}, False, ("birth_date",)
        ),
        SealRead("e", T0, "AB-123", True, SealState.TAMPERED, True, (("opened", T0),)),
        PresenceChange("c", T0, True),
        PlateReading("c", T0, (PlateCandidate("A1", 0.5, "trailer"),)),
        PlateReading(
            "c", T0, (PlateCandidate("1234 УБӨ", 0.8, "tractor", "MN"),), b"\xff\xd8jpeg", 4
        ),
    ],
)
def test_readings_round_trip_through_storage(reading: object) -> None:
    assert reading_from_dict(reading.to_dict()) == reading  # type: ignore[attr-defined]
