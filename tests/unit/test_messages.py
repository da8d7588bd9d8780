"""Payloads by type: each is a typed model that names the field it refuses, a manifest inside is
judged by the e-manifest contract's own parser, and every type has its priority class."""

from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import Any

import pytest

from edge.manifest import Manifest, parse_manifest
from sync.messages import (
    MESSAGE_TYPES,
    AckMessage,
    ArrivalMessage,
    DecisionKind,
    DecisionMessage,
    ExitConfirmationMessage,
    ManifestMessage,
    PayloadError,
    Priority,
    TelemetryMessage,
    new_message_id,
    parse_payload,
    party_id_error,
    payload_json,
    priority_of,
)
from tests.fixtures.records import CONTRACT_EXAMPLE, record

ARRIVAL: dict[str, Any] = {
    "node": "KZ-NURZHOLY-1",
    "lane": "2",
    "arrival_id": 481,
    "opened_at": "2026-11-28T08:41:07.120000Z",
    "plate_reads": [{"text": "777ABC02", "confidence": 0.93, "position": "tractor"}],
    "best_ref": "26KZ00010000000123",
    "best_score": 0.91,
    "discrepancies": ["SEAL_MISSING"],
}
DECISION: dict[str, Any] = {
    "arrival": {"node": "KZ-NURZHOLY-1", "arrival_id": 481},
    "manifest": {"ref": "26KZ00010000000123", "issuer": "KZ-CIS", "version": 1},
    "decision": "physical_inspection",
    "reason": "SEAL_MISSING",
    "note": "Seal KZC1234567 not found on the trailer door.",
    "officer": "KZ-OFF-0042",
    "decided_at": "2026-11-28T08:44:30.000000Z",
}
EXIT: dict[str, Any] = {
    "record": CONTRACT_EXAMPLE,
    "exited_at": "2026-11-28T09:02:11.000000Z",
    "seals": [{"id": "KZC1234567", "type": "mechanical", "party": "CU"}],
    "exit_node": "KZ-NURZHOLY-1",
}


def reasons_for(message_type: str, data: Any) -> list[str]:
    with pytest.raises(PayloadError) as caught:
        parse_payload(message_type, data)
    return caught.value.reasons


def with_(base: dict[str, Any], **changes: Any) -> dict[str, Any]:
    out = dict(base)
    for key, value in changes.items():
        if value is None:
            out.pop(key, None)
        else:
            out[key] = value
    return out


def test_the_registry_has_every_type_with_its_priority_class() -> None:
    assert {name: model.PRIORITY for name, model in MESSAGE_TYPES.items()} == {
        "manifest": Priority.OPERATIONAL,
        "arrival": Priority.OPERATIONAL,
        "decision": Priority.EVIDENCE,
        "exit_confirmation": Priority.EVIDENCE,
        "manifest_withdrawal": Priority.OPERATIONAL,  # with the records it withdraws
        "relay": Priority.EVIDENCE,  # carries exit confirmations: never dropped
        "ack": Priority.OPERATIONAL,
        "telemetry": Priority.TELEMETRY,
        "health": Priority.TELEMETRY,  # superseded by the next report: may be dropped
        "twin_desired": Priority.CONTROL,  # the fleet's changes: never dropped, sent first
        "twin_reported": Priority.CONTROL,
        "command": Priority.CONTROL,
        "command_result": Priority.CONTROL,
        "revocation": Priority.CONTROL,
        "checkpoint": Priority.OPERATIONAL,  # the transparency log's: superseded, not dropped
        "cosignature": Priority.OPERATIONAL,
        "tlog_alert": Priority.EVIDENCE,  # a log caught, with both checkpoints: never dropped
        "risk_profiles": Priority.CONTROL,  # the box's selectivity, set by its centre
        "inspection_result": Priority.EVIDENCE,  # what an inspection found: never dropped
    }
    assert priority_of("decision") is Priority.EVIDENCE
    with pytest.raises(KeyError):
        priority_of("gossip")


def test_an_unknown_type_is_a_key_error_not_a_payload_error() -> None:
    with pytest.raises(KeyError):
        parse_payload("gossip", {})


@pytest.mark.parametrize(
    ("message_type", "data"),
    [
        ("manifest", {"record": CONTRACT_EXAMPLE}),
        ("arrival", ARRIVAL),
        ("decision", DECISION),
        ("exit_confirmation", EXIT),
        ("ack", {"ids": ["019ac8f2-5a3e-7c41-9d2b-0f5e6a7b8c9d"]}),
        (
            "telemetry",
            {
                "metrics": {
                    "outbox.depth": 3,
                    "up": True,
                    "disk.free_ratio": 0.5,
                    "version": "0.1.0",
                }
            },
        ),
    ],
)
def test_each_type_round_trips_through_its_json(message_type: str, data: dict[str, Any]) -> None:
    message = parse_payload(message_type, data)
    assert type(message) is MESSAGE_TYPES[message_type]
    again = parse_payload(message_type, payload_json(message))
    assert again == message
    assert payload_json(again) == payload_json(message)


def test_a_manifest_payload_is_the_contract_record_parsed_by_the_contract() -> None:
    message = parse_payload("manifest", {"record": CONTRACT_EXAMPLE})
    assert isinstance(message, ManifestMessage)
    assert message.record == parse_manifest(CONTRACT_EXAMPLE)
    assert payload_json(message)["record"]["expected_arrival"] == "2026-11-28T08:30:00Z"


def test_a_manifest_breaking_the_contract_gives_the_contracts_reasons_under_record() -> None:
    broken = record(seals=[{"id": "A"}, {"id": "B"}, {"id": " "}], goods=[], issuer="somebody")
    assert sorted(reasons_for("manifest", {"record": broken})) == [
        "record.goods: empty",
        "record.issuer: 'somebody' is not a CIS or node id such as KZ-CIS or KZ-NURZHOLY-1",
        "record.seals[2].id: empty",
    ]


def test_a_manifest_record_that_is_not_an_object_is_named() -> None:
    assert reasons_for("manifest", {"record": [1]}) == ["record: expected a JSON object, got list"]
    assert reasons_for("manifest", {}) == ["record: required"]


def test_contract_reasons_and_other_fields_are_reported_together() -> None:
    data = with_(EXIT, record=record(ref=None), exit_node="kz", exited_at="2026-11-28T09:02")
    assert sorted(reasons_for("exit_confirmation", data)) == [
        "exit_node: 'kz' is not a node or CIS id such as KZ-NURZHOLY-1 or KZ-CIS",
        "exited_at: expected an ISO 8601 time in UTC with a Z, e.g. 2026-11-28T08:30:00Z",
        "record.ref: required",
    ]


def test_an_exit_confirmation_is_built_from_the_record_as_it_left() -> None:
    manifest = parse_manifest(CONTRACT_EXAMPLE)
    message = ExitConfirmationMessage(
        record=manifest,
        exited_at=dt.datetime(2026, 11, 28, 9, 2, 11, tzinfo=dt.UTC),
        seals=manifest.seals,
        exit_node="KZ-NURZHOLY-1",
    )
    assert isinstance(message.record, Manifest)
    assert payload_json(message)["exited_at"] == "2026-11-28T09:02:11.000000Z"
    assert message.speaks_for() == "KZ-NURZHOLY-1"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"lane": "lane 2"}, "lane: String should match pattern"),
        ({"arrival_id": 0}, "arrival_id: Input should be greater than or equal to 1"),
        ({"arrival_id": "481"}, "arrival_id: Input should be a valid integer"),
        ({"opened_at": "2026-11-28T13:41:07+05:00"}, "opened_at: expected an ISO 8601 time in UTC with a Z"),
        ({"opened_at": "yesterdayZ"}, "opened_at: 'yesterdayZ' is not an ISO 8601 time"),
        ({"plate_reads": [{"text": "777ABC02", "confidence": 1.5}]}, "plate_reads[0].confidence: Input should be less than or equal to 1"),
        ({"plate_reads": [{"text": "", "confidence": 0.5}]}, "plate_reads[0].text: empty"),
        ({"plate_reads": [{"text": "A", "confidence": 0.5, "position": "roof"}]}, "plate_reads[0].position"),
        ({"plate_reads": [{"text": "A", "confidence": 0.5}] * 33}, "plate_reads: Tuple should have at most 32 items"),
        ({"best_score": float("nan")}, "best_score"),
        ({"discrepancies": ["LOOKS_ODD"]}, "discrepancies[0]: Input should be 'NO_PRE_ARRIVAL'"),
        ({"node": None}, "node: required"),
        ({"camera": "cam-1"}, "camera: not a field of the contract"),
    ],
)  # fmt: skip
def test_a_bad_arrival_names_the_field(changes: dict[str, Any], reason: str) -> None:
    reasons = reasons_for("arrival", with_(ARRIVAL, **changes))
    assert any(r.startswith(reason) for r in reasons), reasons


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"decision": "wave_through"}, "decision: Input should be 'release', 'documentary_check', 'physical_inspection' or 'refuse'"),
        ({"reason": "seal missing"}, "reason: String should match pattern"),
        ({"officer": ""}, "officer: empty"),
        ({"note": "x" * 2001}, "note: String should have at most 2000 characters"),
        ({"arrival": {"node": "KZ-NURZHOLY-1"}}, "arrival.arrival_id: required"),
        ({"manifest": {"ref": "26KZ1", "issuer": "nobody"}}, "manifest.issuer: 'nobody' is not a node or CIS id"),
        ({"decided_at": 1764319470}, "decided_at: expected an ISO 8601 time in UTC with a Z"),
    ],
)  # fmt: skip
def test_a_bad_decision_names_the_field(changes: dict[str, Any], reason: str) -> None:
    reasons = reasons_for("decision", with_(DECISION, **changes))
    assert any(r.startswith(reason) for r in reasons), reasons


def test_a_refusal_without_a_pre_arrival_record_is_a_valid_decision() -> None:
    message = parse_payload(
        "decision", with_(DECISION, manifest=None, decision="refuse", reason="NO_PRE_ARRIVAL")
    )
    assert isinstance(message, DecisionMessage)
    assert (message.manifest, message.decision) == (None, DecisionKind.REFUSE)
    assert "manifest" not in payload_json(message)


@pytest.mark.parametrize(
    ("ids", "reason"),
    [
        ([], "ids: empty"),
        (["6f9619ff-8b86-4d11-b42d-00c04fc964ff"], "ids[0]: '6f9619ff-8b86-4d11-b42d-00c04fc964ff' is a UUID version 4, expected version 7"),
        (["019AC8F2-5A3E-7C41-9D2B-0F5E6A7B8C9D"], "ids[0]: '019AC8F2-5A3E-7C41-9D2B-0F5E6A7B8C9D' is not in canonical form"),
        (["nope"], "ids[0]: 'nope' is not a UUID"),
        ([7], "ids[0]: Input should be a valid string"),
    ],
)  # fmt: skip
def test_an_ack_takes_only_canonical_uuid7_ids(ids: list[Any], reason: str) -> None:
    reasons = reasons_for("ack", {"ids": ids})
    assert any(r.startswith(reason) for r in reasons), reasons


def test_telemetry_is_free_form_but_bounded() -> None:
    assert reasons_for("telemetry", {"metrics": {f"m{i}": i for i in range(257)}}) == [
        "metrics: 257 metrics, at most 256"
    ]
    assert reasons_for("telemetry", {"metrics": {"Disk Free": 1}})[0].startswith(
        "metrics.Disk Free.[key]"
    )
    nested = reasons_for("telemetry", {"metrics": {"disk": {"free": 1}}})
    assert all(r.startswith("metrics.disk") for r in nested)
    assert reasons_for("telemetry", {"metrics": {"note": "x" * 257}})
    assert parse_payload("telemetry", {"metrics": {}}) == TelemetryMessage(metrics={})


def test_telemetry_keeps_booleans_and_integers_apart() -> None:
    message = parse_payload("telemetry", {"metrics": {"up": True, "count": 1, "ratio": 1.0}})
    assert isinstance(message, TelemetryMessage)
    assert [type(v) for v in message.metrics.values()] == [bool, int, float]


def test_a_payload_that_is_not_an_object_is_refused() -> None:
    assert reasons_for("ack", ["x"]) == ["payload: expected a JSON object, got list"]


def test_payloads_say_which_node_they_speak_for() -> None:
    assert ArrivalMessage.model_validate(ARRIVAL).speaks_for() == "KZ-NURZHOLY-1"
    assert DecisionMessage.model_validate(DECISION).speaks_for() == "KZ-NURZHOLY-1"
    assert AckMessage(ids=(new_message_id(),)).speaks_for() is None


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("KZ-NURZHOLY-1", True), ("KZ-CIS", True), ("KG-TORUGART-12", True), ("UZ-YALLAMA-9999", True),
        ("kz-nurzholy-1", False), ("KZ", False), ("KZ-", False), ("XX-POST-1", False), ("KZ-1", False),
        ("KZ-NURZHOLY-01", False), ("KZ-NURZHOLY-10000", False), ("UZ-YALLAMA-EAST-2", False),
        ("KZ-NUR ZHOLY-1", False), ("KZ-NURZHOLY-1/#", False), ("KZ-+-1", False), ("KZ-" + "A" * 33, False),
    ],
)  # fmt: skip
def test_node_and_cis_ids(value: str, ok: bool) -> None:
    assert (party_id_error(value) is None) is ok


def test_message_ids_are_uuid7_and_time_ordered() -> None:
    before = int(time.time() * 1000)
    ids = [new_message_id() for _ in range(2000)]
    after = int(time.time() * 1000)
    assert len(set(ids)) == len(ids)
    assert ids == sorted(ids)  # canonical lower-case hex sorts as the ids' bytes
    parsed = [uuid.UUID(i) for i in ids]
    assert {u.version for u in parsed} == {7}
    # uuid6 keeps ids of one millisecond ordered by moving the next one a millisecond on, so a
    # burst runs ahead of the clock by at most one millisecond per id.
    assert all(before <= u.int >> 80 <= after + len(ids) for u in parsed)
