"""The signed envelope: what one post seals, the other opens unchanged; everything unsigned,
forged, stale, misaddressed or broken is refused with its stable reason and never half-read."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import json
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ec import SECP256R1, generate_private_key
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sync.envelope import (
    ALGORITHM,
    ENVELOPE_TYPE,
    Envelope,
    EnvelopeRejected,
    Reason,
    canonical_json,
    open_envelope,
    seal,
)
from sync.messages import (
    AckMessage,
    ArrivalMessage,
    DecisionMessage,
    ManifestMessage,
    Priority,
    TelemetryMessage,
    new_message_id,
)
from tests.fixtures.records import CONTRACT_EXAMPLE

EXIT_POST = "KZ-NURZHOLY-1"
ENTRY_POST = "KG-TORUGART-1"
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)

EXIT_KEY = Ed25519PrivateKey.generate()
OTHER_KEY = Ed25519PrivateKey.generate()


def keys_of(**known: Ed25519PrivateKey) -> Callable[[str, bytes | None], Ed25519PublicKey]:
    """A trust store for tests: node id (underscores for hyphens) -> its key."""
    table = {name.replace("_", "-"): key.public_key() for name, key in known.items()}

    def key_for(node: str, certificate: bytes | None) -> Ed25519PublicKey:
        return table[node]

    return key_for


TRUSTED = keys_of(KZ_NURZHOLY_1=EXIT_KEY)


def decision(node: str = EXIT_POST) -> DecisionMessage:
    return DecisionMessage.model_validate(
        {
            "arrival": {"node": node, "arrival_id": 481},
            "manifest": {"ref": "26KZ00010000000123", "issuer": "KZ-CIS"},
            "decision": "release",
            "reason": "NO_DISCREPANCY",
            "officer": "KZ-OFF-0042",
            "decided_at": "2026-11-28T08:44:30Z",
        }
    )


def envelope(payload: Any = None) -> Envelope:
    return Envelope.new(
        payload or decision(), origin=EXIT_POST, destination=ENTRY_POST, seq=1, now=NOW
    )


def open_(data: bytes, **options: Any) -> Envelope:
    kwargs: dict[str, Any] = {
        "expected_destination": ENTRY_POST,
        "now": NOW,
        "max_age": DAY,
    }
    kwargs.update(options)
    key_for = kwargs.pop("key_for", TRUSTED)
    return open_envelope(data, key_for, **kwargs)


def rejected(data: bytes, **options: Any) -> EnvelopeRejected:
    with pytest.raises(EnvelopeRejected) as caught:
        open_(data, **options)
    return caught.value


def b64url(raw: bytes) -> bytes:
    return base64.urlsafe_b64encode(raw).rstrip(b"=")


def unb64url(segment: bytes) -> bytes:
    return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))


def jws(
    content: Any,
    *,
    key: Ed25519PrivateKey | None = EXIT_KEY,
    header: dict[str, Any] | None = None,
    raw_payload: bytes | None = None,
) -> bytes:
    """A JWS signed by hand (not through the code under test), for content it would not seal."""
    protected = {"alg": ALGORITHM, "kid": EXIT_POST, "typ": ENVELOPE_TYPE, **(header or {})}
    payload = raw_payload if raw_payload is not None else canonical_json(content)
    signing_input = b64url(json.dumps(protected).encode()) + b"." + b64url(payload)
    signature = key.sign(signing_input) if key else b""
    return signing_input + b"." + b64url(signature)


def content(**changes: Any) -> dict[str, Any]:
    """A valid envelope's signed content with fields replaced (None removes one)."""
    out = envelope().to_dict()
    for name, value in changes.items():
        if value is None:
            out.pop(name)
        else:
            out[name] = value
    return out


def self_signed(key: Ed25519PrivateKey, name: str) -> bytes:
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - DAY)
        .not_valid_after(NOW + DAY)
        .sign(key, None)
    )
    return certificate.public_bytes(serialization.Encoding.PEM)


# --- the happy path ---------------------------------------------------------------------------


def test_a_sealed_decision_opens_unchanged_at_the_partner_post() -> None:
    sent = envelope()
    received = open_(seal(sent, EXIT_KEY, EXIT_POST))
    assert received == sent
    assert received.to_dict() == sent.to_dict()
    assert received.priority is Priority.EVIDENCE
    assert isinstance(received.payload, DecisionMessage)


@pytest.mark.parametrize(
    "payload",
    [
        ManifestMessage.model_validate({"record": CONTRACT_EXAMPLE}),
        TelemetryMessage(metrics={"disk.free_ratio": 0.5, "broker.connected": True}),
        AckMessage(ids=(new_message_id(),)),
    ],
    ids=["manifest", "telemetry", "ack"],
)
def test_every_kind_of_payload_round_trips(payload: Any) -> None:
    sent = envelope(payload)
    assert open_(seal(sent, EXIT_KEY, EXIT_POST)) == sent


def test_the_jws_is_compact_with_our_header_and_the_canonical_content() -> None:
    sent = envelope()
    header, payload, signature = seal(sent, EXIT_KEY, EXIT_POST).split(b".")
    assert json.loads(unb64url(header)) == {
        "alg": "Ed25519",
        "kid": EXIT_POST,
        "typ": "carec-envelope+jws",
    }
    assert unb64url(payload) == sent.canonical_json()
    assert len(unb64url(signature)) == 64


def test_envelope_content_carries_the_addressing_fields() -> None:
    fields = envelope().to_dict()
    assert set(fields) == {
        "id", "type", "origin", "destination", "created", "schema", "stream", "seq", "payload"
    }  # fmt: skip
    assert fields["type"] == "decision"
    assert fields["created"] == "2026-11-28T09:00:00.000000Z"
    assert fields["schema"] == 1
    assert fields["stream"] == "KZ-NURZHOLY-1/KG-TORUGART-1/decision"


def test_a_certificate_in_x5c_reaches_the_key_lookup_as_pem() -> None:
    certificate = self_signed(EXIT_KEY, EXIT_POST)
    seen: list[bytes | None] = []

    def from_certificate(node: str, pem: bytes | None) -> Ed25519PublicKey:
        seen.append(pem)
        assert pem is not None
        key = x509.load_pem_x509_certificate(pem).public_key()
        assert isinstance(key, Ed25519PublicKey)
        return key

    sent = envelope()
    assert open_(seal(sent, EXIT_KEY, EXIT_POST, certificate), key_for=from_certificate) == sent
    assert seen == [certificate]


def test_sealing_with_another_keys_certificate_is_refused() -> None:
    with pytest.raises(ValueError, match="not for this signing key"):
        seal(envelope(), EXIT_KEY, EXIT_POST, self_signed(OTHER_KEY, EXIT_POST))


def test_sealing_a_message_of_another_origin_is_refused() -> None:
    with pytest.raises(ValueError, match="cannot sign as KZ-OTHER-1"):
        seal(envelope(), EXIT_KEY, "KZ-OTHER-1")


def test_sealing_more_than_the_size_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="over the 300 limit"):
        seal(envelope(), EXIT_KEY, EXIT_POST, max_bytes=300)


def test_payload_of_another_type_than_named_is_refused() -> None:
    fields = envelope().model_dump(by_alias=True, exclude={"payload"})
    with pytest.raises(ValueError, match="not a telemetry"):
        Envelope.model_validate({**fields, "type": "telemetry", "payload": decision()})


# --- every reason to refuse -------------------------------------------------------------------


def test_oversized_is_refused_before_it_is_parsed() -> None:
    assert rejected(b"x" * 1001, max_bytes=1000).reason is Reason.OVERSIZED
    big = seal(envelope(), EXIT_KEY, EXIT_POST)
    assert rejected(big, max_bytes=len(big) - 1).reason is Reason.OVERSIZED


@pytest.mark.parametrize(
    ("data", "detail"),
    [
        (b"", "not a JWS Compact Serialization"),
        (b"hello, customs", "not a JWS Compact Serialization"),
        (b"a.b.c.d", "not a JWS Compact Serialization"),
        (b"ab.c+d.ef", "not a JWS Compact Serialization"),
        (b"\xff\xfe.\x00.", "not a JWS Compact Serialization"),
        (b"e30.e30.e30x", "header.alg: required"),
        (b"bm90IGpzb24.e30.AAAA", "header: not JSON"),
        (b"W10.e30.AAAA", "header: expected a JSON object"),
    ],
)
def test_garbage_is_malformed(data: bytes, detail: str) -> None:
    error = rejected(data)
    assert error.reason is Reason.MALFORMED
    assert detail in error.detail


def test_a_truncated_envelope_is_malformed() -> None:
    data = seal(envelope(), EXIT_KEY, EXIT_POST)
    assert rejected(data[: len(data) // 2]).reason is Reason.MALFORMED


def test_a_signed_payload_that_is_not_json_is_malformed() -> None:
    error = rejected(jws(None, raw_payload=b"release the truck"))
    assert (error.reason, error.detail[:17]) == (Reason.MALFORMED, "payload: not JSON")


def test_a_signed_payload_that_is_a_json_list_is_malformed() -> None:
    error = rejected(jws(None, raw_payload=b"[1,2]"))
    assert (error.reason, error.detail) == (Reason.MALFORMED, "payload: expected a JSON object")


def test_a_signed_payload_nested_beyond_reason_is_malformed_not_a_crash() -> None:
    error = rejected(jws(None, raw_payload=b"[" * 100_000 + b"]" * 100_000), max_bytes=10**6)
    assert error.reason is Reason.MALFORMED


def test_duplicate_keys_are_malformed() -> None:
    raw = canonical_json(content())[:-1] + b',"seq":2}'
    error = rejected(jws(None, raw_payload=raw))
    assert (error.reason, error.detail) == (
        Reason.MALFORMED,
        "payload: not JSON: duplicate key 'seq'",
    )


@pytest.mark.parametrize(
    ("changes", "detail"),
    [
        ({"seq": None}, "seq: required"),
        ({"seq": 0}, "seq: Input should be greater than or equal to 1"),
        ({"seq": "1"}, "seq: Input should be a valid integer"),
        ({"id": "not-a-uuid"}, "id: 'not-a-uuid' is not a UUID"),
        (
            {"id": "6f9619ff-8b86-4d11-b42d-00c04fc964ff"},
            "id: '6f9619ff-8b86-4d11-b42d-00c04fc964ff' is a UUID version 4",
        ),
        (
            {"created": "2026-11-28T09:00:00+05:00"},
            "created: expected an ISO 8601 time in UTC with a Z",
        ),
        ({"destination": "Bishkek"}, "destination: 'Bishkek' is not a node or CIS id"),
        (
            {"destination": "XX-POST-1"},
            "destination: 'XX-POST-1' does not start with an ISO 3166-1",
        ),
        ({"stream": "a b"}, "stream: String should match pattern"),
        ({"priority": "high"}, "priority: not a field of the contract"),
        ({"payload": [1]}, "payload: Input should be a valid dictionary"),
    ],
)
def test_a_missing_or_bad_field_is_malformed_and_named(
    changes: dict[str, Any], detail: str
) -> None:
    error = rejected(jws(content(**changes)))
    assert error.reason is Reason.MALFORMED
    assert detail in error.detail


def test_an_upper_case_message_id_is_malformed_so_that_dedupe_cannot_be_dodged() -> None:
    loud = content()["id"].upper()
    error = rejected(jws(content(id=loud)))
    assert (error.reason, "not in canonical form" in error.detail) == (Reason.MALFORMED, True)


def test_a_bad_payload_is_malformed_with_the_field_named() -> None:
    bad = content()
    bad["payload"]["decision"] = "wave_through"
    del bad["payload"]["officer"]
    error = rejected(jws(bad))
    assert error.reason is Reason.MALFORMED
    assert "payload.decision: Input should be 'release'" in error.detail
    assert "payload.officer: required" in error.detail


def test_a_manifest_breaking_the_contract_is_malformed_with_the_contracts_reasons() -> None:
    bad = content(type="manifest", payload={"record": {**CONTRACT_EXAMPLE, "goods": []}})
    error = rejected(jws(bad))
    assert (error.reason, error.detail) == (Reason.MALFORMED, "payload.record.goods: empty")


@pytest.mark.parametrize(
    ("header", "detail"),
    [
        ({"typ": "JWT"}, "header.typ: expected carec-envelope+jws"),
        ({"crit": ["b64"], "b64": False}, "header.b64: not a header field"),
        ({"jku": "https://evil.example/keys"}, "header.jku: not a header field"),
        ({"kid": 7}, "header.kid: required"),
        ({"kid": "kz-nurzholy-1"}, "header.kid: 'kz-nurzholy-1' is not a node or CIS id"),
        ({"x5c": "MIIB"}, "header.x5c: expected the origin's certificate"),
        ({"x5c": ["not base64!"]}, "header.x5c[0]: not a DER certificate"),
        ({"x5c": ["AAAA"]}, "header.x5c[0]: not a DER certificate"),
    ],
)
def test_a_header_outside_the_contract_is_malformed(header: dict[str, Any], detail: str) -> None:
    error = rejected(jws(content(), header=header))
    assert error.reason is Reason.MALFORMED
    assert error.detail.startswith(detail)


def test_alg_none_is_unsigned() -> None:
    error = rejected(jws(content(), key=None, header={"alg": "none"}))
    assert error.reason is Reason.UNSIGNED


def test_a_stripped_signature_is_unsigned() -> None:
    data = seal(envelope(), EXIT_KEY, EXIT_POST)
    assert rejected(data[: data.rindex(b".") + 1]).reason is Reason.UNSIGNED


def test_a_signed_header_without_alg_is_malformed() -> None:
    error = rejected(jws(content(), header={"alg": None}))
    assert (error.reason, error.detail) == (Reason.MALFORMED, "header.alg: required")


def test_signed_with_another_key_is_a_bad_signature() -> None:
    error = rejected(jws(content(), key=OTHER_KEY))
    assert (error.reason, error.detail) == (
        Reason.BAD_SIGNATURE,
        "not signed by KZ-NURZHOLY-1's key",
    )


def test_a_tampered_payload_is_a_bad_signature() -> None:
    header, _, signature = seal(envelope(), EXIT_KEY, EXIT_POST).split(b".")
    forged = b64url(canonical_json(content(destination=ENTRY_POST, seq=99)))
    assert rejected(header + b"." + forged + b"." + signature).reason is Reason.BAD_SIGNATURE


def test_hmac_with_the_public_key_as_secret_is_refused_no_alg_confusion() -> None:
    public = EXIT_KEY.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    )
    protected = {"alg": "HS256", "kid": EXIT_POST, "typ": ENVELOPE_TYPE}
    signing_input = (
        b64url(json.dumps(protected).encode()) + b"." + b64url(canonical_json(content()))
    )
    mac = hmac.new(public, signing_input, hashlib.sha256).digest()
    error = rejected(signing_input + b"." + b64url(mac))
    assert (error.reason, error.detail) == (
        Reason.BAD_SIGNATURE,
        "header.alg: 'HS256' refused, only Ed25519",
    )


def test_polymorphic_eddsa_alg_is_refused() -> None:
    assert rejected(jws(content(), header={"alg": "EdDSA"})).reason is Reason.BAD_SIGNATURE


def test_an_origin_the_trust_store_does_not_know_is_unknown() -> None:
    error = rejected(seal(envelope(), EXIT_KEY, EXIT_POST), key_for=keys_of())
    assert error.reason is Reason.UNKNOWN_ORIGIN
    assert error.detail.startswith("KZ-NURZHOLY-1: ")


def test_a_key_lookup_that_answers_with_no_ed25519_key_is_unknown_origin() -> None:
    def ecdsa(node: str, certificate: bytes | None) -> Any:
        return generate_private_key(SECP256R1()).public_key()

    error = rejected(seal(envelope(), EXIT_KEY, EXIT_POST), key_for=ecdsa)
    assert error.reason is Reason.UNKNOWN_ORIGIN


def test_content_claiming_another_origin_than_its_signer_is_an_origin_mismatch() -> None:
    error = rejected(jws(content(origin="KZ-CIS")))
    assert (error.reason, error.detail) == (
        Reason.ORIGIN_MISMATCH,
        "origin KZ-CIS signed by KZ-NURZHOLY-1 (header.kid)",
    )


def test_a_decision_on_another_posts_arrival_is_an_origin_mismatch() -> None:
    data = seal(envelope(decision(node="KZ-KHORGOS-1")), EXIT_KEY, EXIT_POST)
    error = rejected(data)
    assert error.reason is Reason.ORIGIN_MISMATCH
    assert "speaks for KZ-KHORGOS-1" in error.detail


def test_an_arrival_reported_for_another_node_is_an_origin_mismatch() -> None:
    arrival = ArrivalMessage.model_validate(
        {"node": "KZ-KHORGOS-1", "lane": "1", "arrival_id": 1, "opened_at": "2026-11-28T08:00:00Z"}
    )
    assert rejected(seal(envelope(arrival), EXIT_KEY, EXIT_POST)).reason is Reason.ORIGIN_MISMATCH


def test_a_message_for_another_post_is_wrong_destination() -> None:
    data = seal(envelope(), EXIT_KEY, EXIT_POST)
    error = rejected(data, expected_destination="KG-KARASUU-1")
    assert (error.reason, error.detail) == (Reason.WRONG_DESTINATION, "addressed to KG-TORUGART-1")
    assert open_(data, expected_destination={"KG-CIS", ENTRY_POST}).destination == ENTRY_POST


def test_older_than_the_age_limit_is_expired() -> None:
    data = seal(envelope(), EXIT_KEY, EXIT_POST)
    assert open_(data, now=NOW + DAY).seq == 1
    error = rejected(data, now=NOW + DAY + dt.timedelta(seconds=1))
    assert error.reason is Reason.EXPIRED


def test_age_limits_may_differ_per_priority_class() -> None:
    limits = {Priority.TELEMETRY: dt.timedelta(hours=1)}  # evidence: no limit
    late = NOW + dt.timedelta(days=30)
    telemetry = seal(envelope(TelemetryMessage(metrics={"up": True})), EXIT_KEY, EXIT_POST)
    assert rejected(telemetry, now=late, max_age=limits).reason is Reason.EXPIRED
    assert open_(seal(envelope(), EXIT_KEY, EXIT_POST), now=late, max_age=limits).seq == 1


def test_created_beyond_the_clock_skew_is_from_the_future() -> None:
    data = seal(envelope(), EXIT_KEY, EXIT_POST)
    assert open_(data, now=NOW - dt.timedelta(minutes=5)).seq == 1
    error = rejected(data, now=NOW - dt.timedelta(minutes=5, seconds=1))
    assert error.reason is Reason.FROM_THE_FUTURE


def test_a_type_nobody_registered_is_unknown() -> None:
    error = rejected(jws(content(type="gossip", payload={"rumour": "x"})))
    assert (error.reason, error.detail) == (Reason.UNKNOWN_TYPE, "type 'gossip'")


def test_a_schema_version_from_a_newer_release_is_unsupported() -> None:
    error = rejected(jws(content(schema=2, novelty="whatever")))
    assert (error.reason, error.detail) == (Reason.UNSUPPORTED_SCHEMA, "schema 2, supported 1")


def test_every_reason_has_a_stable_code() -> None:
    assert {r.value for r in Reason} == {
        "oversized", "malformed", "unsigned", "bad_signature", "unknown_origin",
        "origin_mismatch", "wrong_destination", "expired", "from_the_future", "unknown_type",
        "unsupported_schema", "topic_mismatch",
    }  # fmt: skip


# --- properties -------------------------------------------------------------------------------


@given(st.binary(max_size=2048))
def test_random_bytes_are_only_ever_refused(data: bytes) -> None:
    with pytest.raises(EnvelopeRejected):
        open_(data)


SEALED = seal(envelope(), EXIT_KEY, EXIT_POST)


@settings(suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(0, len(SEALED) - 1), st.integers(0, 255))
def test_any_changed_byte_is_refused(position: int, value: int) -> None:
    data = SEALED[:position] + bytes([value]) + SEALED[position + 1 :]
    if data == SEALED:
        assert open_(data).seq == 1
        return
    with pytest.raises(EnvelopeRejected):
        open_(data)


_json = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)


@given(st.dictionaries(st.text(max_size=8), _json, max_size=8))
def test_canonical_json_is_stable_whatever_the_key_order(value: dict[str, Any]) -> None:
    reordered = dict(reversed(list(value.items())))
    once = canonical_json(value)
    assert canonical_json(reordered) == once
    assert canonical_json(json.loads(once)) == once
    assert json.loads(once) == value


def test_canonical_json_has_sorted_keys_no_spaces_and_raw_utf8() -> None:
    assert (
        canonical_json({"b": 1, "a": ["А 777 ВС 02", 1.5]})
        == '{"a":["А 777 ВС 02",1.5],"b":1}'.encode()
    )


def test_a_naive_clock_is_a_programming_error_not_a_reject() -> None:
    data = seal(envelope(), EXIT_KEY, EXIT_POST)
    with pytest.raises(ValueError, match="aware"):
        open_(data, now=NOW.replace(tzinfo=None))
