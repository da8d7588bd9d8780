"""The contract's validation: every reject reason names the field, and valid records pass."""

from __future__ import annotations

import json
from typing import Any

import pytest

from edge.manifest import ContractError, parse_manifest, parse_manifest_json
from tests.fixtures.records import CONTRACT_EXAMPLE, record


def reasons_for(data: Any) -> list[str]:
    with pytest.raises(ContractError) as caught:
        parse_manifest(data)
    return caught.value.reasons


def test_contract_example_is_valid_and_round_trips() -> None:
    manifest = parse_manifest(CONTRACT_EXAMPLE)
    assert manifest.transport.plate == "777 ABC 02"
    again = parse_manifest(json.loads(manifest.to_json()))
    assert again == manifest
    assert json.loads(manifest.to_json())["expected_arrival"] == "2026-11-28T08:30:00Z"


def test_plates_are_kept_as_written_in_any_script() -> None:
    manifest = parse_manifest(record(transport={"plate": "А 777 ВС 02", "nationality": "KZ"}))
    assert manifest.transport.plate == "А 777 ВС 02"


def test_expected_arrival_with_offset_is_stored_in_utc() -> None:
    manifest = parse_manifest(record(expected_arrival="2026-11-28T13:30:00+05:00"))
    assert manifest.expected_arrival.isoformat() == "2026-11-28T08:30:00+00:00"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"ref": None}, "ref: required"),
        ({"ref": "X" * 36}, "ref: String should have at most 35 characters"),
        ({"issuer": "somebody"}, "issuer: 'somebody' is not a CIS or node id"),
        ({"procedure": "smuggling"}, "procedure: Input should be 'transit', 'export' or 'import'"),
        ({"office_border": None}, "office_border: required"),
        ({"expected_arrival": "2026-11-28T08:30"}, "expected_arrival: '2026-11-28T08:30' has no UTC offset"),
        ({"expected_arrival": "tomorrow"}, "expected_arrival: 'tomorrow' is not an ISO 8601 time"),
        ({"transport": {"plate": "", "nationality": "KZ"}}, "transport.plate: empty"),
        ({"transport": {"plate": "777ABC02", "nationality": "XX"}}, "transport.nationality: 'XX' is not an ISO 3166-1 alpha-2"),
        ({"trailers": [{"plate": "02 1234 AB", "nationality": "Kazakhstan"}]}, "trailers[0].nationality"),
        ({"driver": {"name": "A B", "document_number": "N1", "nationality": "KZ"}}, "driver.nationality: 'KZ' is not an ICAO 9303"),
        ({"driver": {"name": "A B", "document_number": "N1", "birth_date": "1980-13-40"}}, "driver.birth_date"),
        ({"driver": {"name": "A B", "document_number": "N1", "birth_date": "2999-01-01"}}, "driver.birth_date: 2999-01-01 is not in the past"),
        ({"equipment": [{"id": "CSQU3054384"}]}, "equipment[0].id: 'CSQU3054384' is not an ISO 6346 container number: check digit is 4, expected 3"),
        ({"equipment": [{"id": "CSQ3054383"}]}, "equipment[0].id"),
        ({"seals": [{"id": "A"}, {"id": "B"}, {"id": " "}]}, "seals[2].id: empty"),
        ({"seals": [{"id": "A", "party": "XX"}]}, "seals[0].party"),
        ({"goods": []}, "goods: empty"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "8708", "gross_mass_kg": 1}]}, "goods[0].hs_code: '8708' is not an HS code of 6 to 10 digits"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "87089912345", "gross_mass_kg": 1}]}, "goods[0].hs_code"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "870899", "gross_mass_kg": -0.5}]}, "goods[0].gross_mass_kg: Input should be greater than or equal to 0"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "870899", "gross_mass_kg": "12"}]}, "goods[0].gross_mass_kg"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "870899", "packages": -1, "gross_mass_kg": 1}]}, "goods[0].packages"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "870899", "gross_mass_kg": 1}, {"seq": 1, "description": "y", "hs_code": "870899", "gross_mass_kg": 1}]}, "goods: goods[].seq values must be unique"),
        ({"version": 0}, "version: Input should be greater than or equal to 1"),
        # SQLite keeps signed 64-bit integers: 2**63 must be one bad record, not a failed batch.
        ({"version": 2**63}, "version: Input should be less than or equal to 9223372036854775807"),
        ({"goods": [{"seq": 100_000, "description": "x", "hs_code": "870899", "gross_mass_kg": 1}]}, "goods[0].seq: Input should be less than or equal to 99999"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "870899", "packages": 10**8, "gross_mass_kg": 1}]}, "goods[0].packages: Input should be less than or equal to 99999999"),
        ({"version": "2"}, "version"),
        ({"expected_arival": "2026-11-28T08:30:00Z"}, "expected_arival: not a field of the contract"),
    ],
)  # fmt: skip
def test_each_broken_rule_is_rejected_with_the_field_named(
    changes: dict[str, Any], reason: str
) -> None:
    reasons = reasons_for(record(**changes))
    assert any(r.startswith(reason) for r in reasons), reasons


def test_a_record_that_is_not_an_object_is_rejected() -> None:
    assert reasons_for([1, 2]) == ["record: expected a JSON object, got list"]


def test_every_bad_field_is_reported_at_once() -> None:
    reasons = reasons_for(record(ref=None, procedure="x", goods=[]))
    assert [r.split(":")[0] for r in reasons] == ["ref", "procedure", "goods"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"ref": "A", "ref": "B"}', "not JSON: duplicate key 'ref'"),
        ('{"transport": {"plate": "A", "plate": "B"}}', "not JSON: duplicate key 'plate'"),
        ('{"version": NaN}', "not JSON: NaN is not a JSON number"),
        ("[" * 40 + "]" * 40, "nested 40 levels deep; at most 32 allowed"),
    ],
)
def test_json_a_record_must_not_carry_is_refused_before_the_contract(
    text: str, reason: str
) -> None:
    with pytest.raises(ContractError) as caught:
        parse_manifest_json(text, "day.jsonl:7")
    assert caught.value.reasons == [reason]
