"""The fast paths of the envelope (orjson's canonical JSON, one-pass validation, `seal_new`)
give what the careful paths give, and refuse what they refuse: a sender of an older release
(json module, other number spellings, spaces) is still understood, duplicate keys and NaN are
still refused."""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from sync.envelope import (
    ALGORITHM,
    ENVELOPE_TYPE,
    Envelope,
    EnvelopeRejected,
    Reason,
    canonical_json,
    open_envelope,
    seal,
    seal_new,
)
from sync.messages import AckMessage, Message, TelemetryMessage, new_message_id
from tests.chaos.harness import payloads
from tests.sync.crossing import ENTRY, EXIT

KEY = Ed25519PrivateKey.generate()
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def key_for(origin: str, certificate: bytes | None) -> Ed25519PublicKey:
    return KEY.public_key()


def open_(data: bytes) -> Envelope:
    return open_envelope(data, key_for, expected_destination=ENTRY, now=NOW, max_age=None)


def signed(raw_payload: bytes) -> bytes:
    """A JWS over exactly these payload bytes, as another implementation might write it."""
    header = json.dumps({"alg": ALGORITHM, "kid": EXIT, "typ": ENVELOPE_TYPE}).encode()
    signing_input = _b64(header) + b"." + _b64(raw_payload)
    return signing_input + b"." + _b64(KEY.sign(signing_input))


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def content(payload: Message) -> dict[str, Any]:
    return Envelope.new(payload, origin=EXIT, destination=ENTRY, seq=1, now=NOW).to_dict()


KINDS: list[Message] = [
    *(message for message, _, _ in payloads(0, 2)),  # an arrival, an exit confirmation
    TelemetryMessage(metrics={"cpu": 0.00001, "up": True, "disk": 12}),
    AckMessage(ids=(new_message_id(),)),
]


@pytest.mark.parametrize("payload", KINDS, ids=lambda m: m.TYPE)
def test_to_dict_is_the_models_own_json(payload: Message) -> None:
    envelope = Envelope.new(payload, origin=EXIT, destination=ENTRY, seq=3, now=NOW)
    assert envelope.to_dict() == envelope.model_dump(mode="json", by_alias=True, exclude_none=True)


@pytest.mark.parametrize("payload", KINDS, ids=lambda m: m.TYPE)
def test_seal_new_signs_what_seal_of_a_new_envelope_signs(payload: Message) -> None:
    message_id, data = seal_new(
        payload, KEY, EXIT, ENTRY, seq=7, stream=f"{EXIT}/{ENTRY}/x", created=NOW
    )
    opened = open_(data)
    expected = Envelope.new(payload, origin=EXIT, destination=ENTRY, seq=7,
                            stream=f"{EXIT}/{ENTRY}/x", now=NOW)  # fmt: skip
    assert opened.id == message_id
    assert opened.model_copy(update={"id": expected.id}) == expected
    same = seal(opened, KEY, EXIT)  # the same content sealed the careful way: the same bytes
    assert same == data


def test_seal_new_refuses_what_envelope_refuses() -> None:
    with pytest.raises(ValueError, match="not a node or CIS id"):
        seal_new(KINDS[0], KEY, EXIT, "Bishkek", seq=1, stream="s", created=NOW)
    with pytest.raises(ValueError, match="greater than or equal to 1"):
        seal_new(KINDS[0], KEY, EXIT, ENTRY, seq=0, stream="s", created=NOW)


def test_an_older_senders_spelling_of_the_same_content_is_applied() -> None:
    value = content(KINDS[2])
    older = json.dumps(value, sort_keys=True, separators=(",", ":")).encode()  # 1e-05, \\u escapes
    assert older != canonical_json(value)
    assert open_(signed(older)).payload == KINDS[2]
    spaced = json.dumps(value, indent=2).encode()
    assert open_(signed(spaced)).payload == KINDS[2]


def test_duplicate_keys_are_refused_even_where_orjson_would_take_the_last() -> None:
    raw = canonical_json(content(KINDS[0]))[:-1] + b',"destination":"KG-KARASUU-1"}'
    with pytest.raises(EnvelopeRejected) as caught:
        open_(signed(raw))
    assert caught.value.reason is Reason.MALFORMED
    assert caught.value.detail == "payload: not JSON: duplicate key 'destination'"


def test_nan_is_refused_on_the_wire_and_when_written() -> None:
    raw = canonical_json(content(KINDS[2])).replace(b"1e-05", b"NaN").replace(b"0.00001", b"NaN")
    with pytest.raises(EnvelopeRejected) as caught:
        open_(signed(raw))
    assert caught.value.reason is Reason.MALFORMED
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json({"x": float("nan")})
    with pytest.raises(ValueError, match="not JSON compliant"):
        canonical_json({"x": float("inf")})


def test_canonical_json_writes_what_orjson_cannot_through_the_json_module() -> None:
    assert canonical_json({"b": 2**70, "a": None}) == b'{"a":null,"b":1180591620717411303424}'
    with pytest.raises(TypeError):
        canonical_json({"t": NOW})  # a time is not a JSON value: written as text by the caller


def test_canonical_json_agrees_with_the_json_module_on_envelope_content() -> None:
    for payload in KINDS[:2]:
        value = content(payload)
        reference = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        assert canonical_json(value) == reference.encode()
