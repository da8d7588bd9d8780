"""docs/asyncapi.yaml against the code: an AsyncAPI 3 document with a channel, send and receive
operations and a message for every registered type, whose documented schemas accept what the
code sends. A type added to the registry without its documentation fails here."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from jsonschema import Draft202012Validator
from referencing import Registry, Resource
from referencing.jsonschema import DRAFT202012

from sync.envelope import ALGORITHM, ENVELOPE_TYPE, SCHEMA_VERSION, Envelope, seal
from sync.messages import MESSAGE_TYPES, DecisionMessage, parse_payload
from sync.topics import Route, parse_topic

DOCS = Path(__file__).resolve().parents[2] / "docs"
DOC: dict[str, Any] = yaml.safe_load((DOCS / "asyncapi.yaml").read_text(encoding="utf-8"))
BASE = "https://carec-edge.example/schemas/"
REGISTRY: Registry[Any] = Registry().with_resources(
    [
        (BASE + "asyncapi.yaml", Resource.from_contents(DOC, default_specification=DRAFT202012)),
        (
            BASE + "emanifest.schema.json",
            Resource.from_contents(json.loads((DOCS / "emanifest.schema.json").read_text())),
        ),
    ]
)
TYPES = sorted(MESSAGE_TYPES)


def resolve(ref: str) -> Any:
    assert ref.startswith("#/"), ref
    node: Any = DOC
    for part in ref[2:].split("/"):
        node = node[part]
    return node


def schema_validator(name: str) -> Draft202012Validator:
    return Draft202012Validator(
        {"$ref": f"{BASE}asyncapi.yaml#/components/schemas/{name}"}, registry=REGISTRY
    )


def decoded(segment: bytes) -> Any:
    return json.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))


def signed_content_schema(message_type: str) -> str:
    ref: str = DOC["components"]["messages"][message_type]["x-signed-content"]["$ref"]
    return ref.rsplit("/", 1)[1]


def test_the_document_is_asyncapi_3_shaped() -> None:
    assert DOC["asyncapi"] == "3.0.0"
    assert {"title", "version", "description"} <= set(DOC["info"])
    assert DOC["defaultContentType"] == "application/jose"
    for key in ("channels", "operations", "components"):
        assert isinstance(DOC[key], dict), key


def test_every_internal_reference_resolves() -> None:
    def refs(node: Any) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [r for value in node.values() for r in refs(value)]
        if isinstance(node, list):
            return [r for value in node for r in refs(value)]
        return []

    found = refs(DOC)
    assert found
    for ref in found:
        if ref.startswith("#/"):
            resolve(ref)
        else:
            assert (DOCS / ref).is_file(), ref


@pytest.mark.parametrize("message_type", TYPES)
def test_every_registered_type_has_a_documented_message(message_type: str) -> None:
    message = DOC["components"]["messages"][message_type]
    assert message["name"] == message_type
    assert resolve(message["payload"]["$ref"]) is DOC["components"]["schemas"]["JwsCompact"]
    trait = resolve(message["traits"][0]["$ref"])
    assert trait["contentType"] == "application/jose"
    assert MESSAGE_TYPES[message_type].PRIORITY.value in message["summary"]


@pytest.mark.parametrize("message_type", TYPES)
def test_every_registered_type_has_a_channel_at_its_topic(message_type: str) -> None:
    channel = DOC["channels"][message_type]
    topic = channel["address"].format(
        country="KZ", origin="KZ-NURZHOLY-1", destination="KG-TORUGART-1"
    )
    assert parse_topic(topic) == Route("KZ-NURZHOLY-1", "KG-TORUGART-1", message_type)
    assert set(channel["parameters"]) == {"country", "origin", "destination"}
    assert [resolve(m["$ref"]) for m in channel["messages"].values()] == [
        DOC["components"]["messages"][message_type]
    ]


@pytest.mark.parametrize("message_type", TYPES)
def test_every_registered_type_is_sent_and_received_at_qos_1(message_type: str) -> None:
    operations = [
        op
        for op in DOC["operations"].values()
        if op["channel"]["$ref"] == f"#/channels/{message_type}"
    ]
    assert sorted(op["action"] for op in operations) == ["receive", "send"]
    for op in operations:
        assert resolve(op["bindings"]["$ref"])["mqtt"]["qos"] == 1
        assert [m["$ref"] for m in op["messages"]] == [
            f"#/channels/{message_type}/messages/{message_type}"
        ]


@pytest.mark.parametrize("message_type", TYPES)
def test_documented_examples_are_payloads_the_code_and_the_schema_accept(message_type: str) -> None:
    name = signed_content_schema(message_type)
    schema = DOC["components"]["schemas"][name]
    assert schema["examples"], f"{name} has no example"
    for example in schema["examples"]:
        parse_payload(message_type, example)
        schema_validator(name).validate(example)


def test_the_documented_schemas_refuse_what_the_code_refuses() -> None:
    decision = DOC["components"]["schemas"]["DecisionPayload"]["examples"][0]
    validator = schema_validator("DecisionPayload")
    assert not validator.is_valid({**decision, "decision": "wave_through"})
    assert not validator.is_valid({**decision, "extra": 1})
    manifest = DOC["components"]["schemas"]["ManifestPayload"]["examples"][0]
    assert not schema_validator("ManifestPayload").is_valid(
        {"record": {**manifest["record"], "goods": []}}
    )


def test_the_documented_envelope_is_what_the_code_seals() -> None:
    key = Ed25519PrivateKey.generate()
    decision = DecisionMessage.model_validate(
        DOC["components"]["schemas"]["DecisionPayload"]["examples"][0]
    )
    envelope = Envelope.new(
        decision,
        origin="KZ-NURZHOLY-1",
        destination="KG-TORUGART-1",
        seq=7,
        now=dt.datetime(2026, 11, 28, 8, 45, tzinfo=dt.UTC),
    )
    data = seal(envelope, key, "KZ-NURZHOLY-1")
    schema_validator("JwsCompact").validate(data.decode("ascii"))
    header_segment, content_segment, _ = data.split(b".")
    header, content = decoded(header_segment), decoded(content_segment)
    schema_validator("EnvelopeHeader").validate(header)
    schema_validator("Envelope").validate(content)
    schema_validator("DecisionPayload").validate(content["payload"])


def test_the_documented_constants_are_the_codes() -> None:
    schemas = DOC["components"]["schemas"]
    assert schemas["EnvelopeHeader"]["properties"]["alg"]["const"] == ALGORITHM
    assert schemas["EnvelopeHeader"]["properties"]["typ"]["const"] == ENVELOPE_TYPE
    assert schemas["Envelope"]["properties"]["schema"]["const"] == SCHEMA_VERSION
    assert schemas["Envelope"]["properties"]["type"]["enum"] == list(MESSAGE_TYPES)


def test_the_broker_is_reached_over_mutual_tls() -> None:
    for server in DOC["servers"].values():
        assert server["protocol"] == "secure-mqtt"
        assert server["protocolVersion"] == "5"
        schemes = [resolve(s["$ref"]) for s in server["security"]]
        assert [s["type"] for s in schemes] == ["X509"]
        assert server["bindings"]["mqtt"]["cleanSession"] is False
