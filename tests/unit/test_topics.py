"""The topic contract: a node publishes only under its own prefix, each receiver subscribes to
what is addressed to it, and the broker ACL patterns derived from it confine both."""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sync.envelope import Envelope
from sync.messages import MESSAGE_TYPES, AckMessage, Priority, new_message_id
from sync.topics import (
    Route,
    TopicError,
    node_prefix,
    parse_topic,
    peer_patterns,
    publish_patterns,
    subscribe_patterns,
    topic_for,
    topic_of,
    validate_country,
    validate_node_id,
)

EXIT_POST = "KZ-NURZHOLY-1"
ENTRY_POST = "KG-TORUGART-1"


def mqtt_matches(pattern: str, topic: str) -> bool:
    """MQTT 5 topic filter matching (section 4.7), written out independently of the code."""
    filter_levels, topic_levels = pattern.split("/"), topic.split("/")
    for i, level in enumerate(filter_levels):
        if level == "#":
            return True
        if i >= len(topic_levels) or (level != "+" and level != topic_levels[i]):
            return False
    return len(filter_levels) == len(topic_levels)


def test_an_exit_confirmation_goes_out_under_the_exit_posts_own_prefix() -> None:
    assert (
        topic_for(EXIT_POST, ENTRY_POST, "exit_confirmation")
        == "carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/exit_confirmation"
    )
    assert topic_for("KZ-CIS", EXIT_POST, "manifest") == (
        "carec/v1/KZ/KZ-CIS/to/KZ-NURZHOLY-1/operational/manifest"
    )


@pytest.mark.parametrize("message_type", sorted(MESSAGE_TYPES))
def test_every_type_has_a_topic_that_parses_back(message_type: str) -> None:
    topic = topic_for(EXIT_POST, ENTRY_POST, message_type)
    route = parse_topic(topic)
    assert route == Route(EXIT_POST, ENTRY_POST, message_type)
    assert route.topic == topic
    assert topic.split("/")[6] == route.priority.value


def test_the_topic_of_an_envelope_agrees_with_its_route() -> None:
    envelope = Envelope.new(
        AckMessage(ids=(new_message_id(),)),
        origin=ENTRY_POST,
        destination=EXIT_POST,
        seq=1,
        now=dt.datetime(2026, 11, 28, tzinfo=dt.UTC),
    )
    assert topic_of(envelope) == "carec/v1/KG/KG-TORUGART-1/to/KZ-NURZHOLY-1/operational/ack"
    assert parse_topic(topic_of(envelope)) == Route.of(envelope)
    assert Route.of(envelope).priority is Priority.OPERATIONAL


@pytest.mark.parametrize(
    ("topic", "reason"),
    [
        ("carec/v2/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/decision", "is not carec/v1/"),
        ("carec/v1/KZ/KZ-NURZHOLY-1/in/KG-TORUGART-1/evidence/decision", "is not carec/v1/"),
        ("carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/decision", "is not carec/v1/"),
        ("carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/decision/extra", "is not carec/v1/"),
        ("carec/v1/KG/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/decision", "country level 'KG' is not the origin's country 'KZ'"),
        ("carec/v1/KZ/kz-nurzholy-1/to/KG-TORUGART-1/evidence/decision", "origin: 'kz-nurzholy-1' is not a node or CIS id"),
        ("carec/v1/KZ/KZ-NURZHOLY-1/to/+/evidence/decision", "destination: '+' is not a node or CIS id"),
        ("carec/v1/XX/XX-POST-1/to/KG-TORUGART-1/evidence/decision", "origin: 'XX-POST-1' does not start with an ISO 3166-1"),
        ("carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/gossip", "type: 'gossip' is not a registered message type"),
        ("carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/telemetry/decision", "class: decision is evidence, not 'telemetry'"),
    ],
)  # fmt: skip
def test_a_topic_outside_the_contract_is_refused_with_the_reason(topic: str, reason: str) -> None:
    with pytest.raises(TopicError) as caught:
        parse_topic(topic)
    assert reason in str(caught.value)


def test_topics_are_only_built_for_valid_ids_and_registered_types() -> None:
    with pytest.raises(ValueError, match="not a node or CIS id"):
        topic_for("KZ-NURZHOLY-1/#", ENTRY_POST, "decision")
    with pytest.raises(ValueError, match="not a node or CIS id"):
        topic_for(EXIT_POST, "+", "decision")
    with pytest.raises(ValueError, match="not a registered message type"):
        topic_for(EXIT_POST, ENTRY_POST, "gossip")


def test_node_ids_and_countries_are_validated() -> None:
    assert validate_node_id("KZ-CIS") == "KZ-CIS"
    assert validate_country("KG") == "KG"
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
        validate_country("KAZ")
    with pytest.raises(ValueError, match="ISO 3166-1 alpha-2"):
        validate_node_id("XX-POST-1")
    assert node_prefix(EXIT_POST) == "carec/v1/KZ/KZ-NURZHOLY-1"


def test_acl_patterns_of_a_node() -> None:
    assert publish_patterns(EXIT_POST) == ["carec/v1/KZ/KZ-NURZHOLY-1/#"]
    assert subscribe_patterns(EXIT_POST) == ["carec/v1/+/+/to/KZ-NURZHOLY-1/#"]
    assert peer_patterns(EXIT_POST, ENTRY_POST) == ["carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/#"]
    with pytest.raises(ValueError, match="not a node or CIS id"):
        publish_patterns("#")
    with pytest.raises(ValueError, match="not a node or CIS id"):
        subscribe_patterns("+")


_nodes = st.sampled_from(
    [
        "KZ-NURZHOLY-1",
        "KZ-NURZHOLY-10",
        "KZ-NURZHOLY",
        "KG-TORUGART-1",
        "KZ-CIS",
        "KG-CIS",
        "UZ-YALLAMA-2",
    ]
)


@given(_nodes, _nodes, _nodes, st.sampled_from(sorted(MESSAGE_TYPES)))
def test_a_node_may_publish_only_as_itself_and_reads_only_what_is_addressed_to_it(
    node: str, origin: str, destination: str, message_type: str
) -> None:
    topic = topic_for(origin, destination, message_type)
    may_publish = any(mqtt_matches(p, topic) for p in publish_patterns(node))
    may_read = any(mqtt_matches(p, topic) for p in subscribe_patterns(node))
    assert may_publish is (origin == node)
    assert may_read is (destination == node)
    assert any(mqtt_matches(p, topic) for p in peer_patterns(origin, destination))
    if destination != node:
        assert not any(mqtt_matches(p, topic) for p in peer_patterns(origin, node))


def test_the_mqtt_matcher_of_these_tests_follows_the_spec() -> None:
    assert mqtt_matches("a/#", "a")
    assert mqtt_matches("a/+/c", "a/b/c")
    assert not mqtt_matches("a/+", "a/b/c")
    assert not mqtt_matches("a/b", "a/b/c")
