"""The topic contract: where a node publishes each message and what it subscribes to.

    carec/v1/<origin country>/<origin node>/to/<destination>/<class>/<type>
    e.g. carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/exit_confirmation

Why this shape:
- A node publishes only under its own prefix, `carec/v1/<country>/<node>/#`, so the broker's
  ACL can tie every publish to the client certificate's identity: a node cannot publish as
  another, whatever it puts in its envelopes.
- The destination is a level of the topic, so a receiver subscribes to everything addressed to
  it with one filter, `carec/v1/+/+/to/<itself>/#`, and a bridge forwards to a peer exactly
  the topics addressed to that peer.
- The priority class is a level too, so a subscriber or bridge can take evidence and leave
  telemetry (`.../to/KZ-CIS/evidence/#`).
The topic is routing, not proof: the inbox still verifies the envelope and checks that it
agrees with its topic (`Route.of(envelope) == parse_topic(topic)`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

from edge.codes import COUNTRIES_ALPHA2
from sync.envelope import Envelope
from sync.messages import MESSAGE_TYPES, Priority, party_id_error, priority_of

ROOT = "carec/v1"
TO = "to"


class TopicError(ValueError):
    """A topic outside the contract, with the reason."""


def validate_country(code: str) -> str:
    """`code` if it is an ISO 3166-1 alpha-2 country code, else ValueError."""
    if code not in COUNTRIES_ALPHA2:
        raise ValueError(f"{code!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def validate_node_id(node_id: str) -> str:
    """`node_id` if it is a node or CIS id (`KZ-NURZHOLY-1`, `KZ-CIS`), else ValueError."""
    error = party_id_error(node_id)
    if error:
        raise ValueError(error)
    return node_id


def node_prefix(node_id: str) -> str:
    """The topic subtree that belongs to `node_id`: `carec/v1/KZ/KZ-NURZHOLY-1`."""
    validate_node_id(node_id)
    return f"{ROOT}/{node_id[:2]}/{node_id}"


@dataclass(frozen=True)
class Route:
    """Who sends what to whom: everything a topic says."""

    origin: str
    destination: str
    message_type: str

    @classmethod
    def of(cls, envelope: Envelope) -> Route:
        return cls(envelope.origin, envelope.destination, envelope.type)

    @property
    def priority(self) -> Priority:
        return priority_of(self.message_type)

    @property
    def topic(self) -> str:
        return topic_for(self.origin, self.destination, self.message_type)


@functools.lru_cache(maxsize=1024)  # a box writes to few routes, once a message
def topic_for(origin: str, destination: str, message_type: str) -> str:
    """The topic `origin` publishes a `message_type` addressed to `destination` on."""
    validate_node_id(destination)
    if message_type not in MESSAGE_TYPES:
        raise ValueError(f"{message_type!r} is not a registered message type")
    priority = priority_of(message_type).value
    return f"{node_prefix(origin)}/{TO}/{destination}/{priority}/{message_type}"


def topic_of(envelope: Envelope) -> str:
    return topic_for(envelope.origin, envelope.destination, envelope.type)


@functools.lru_cache(maxsize=1024)  # a box hears few routes, once a message (errors: not kept)
def parse_topic(topic: str) -> Route:
    """The route a topic names; TopicError when it is not a topic of the contract."""
    levels = topic.split("/")
    if len(levels) != 8 or "/".join(levels[:2]) != ROOT or levels[4] != TO:
        raise TopicError(f"{topic[:200]!r} is not {ROOT}/<country>/<node>/to/<dest>/<class>/<type>")
    _, _, country, origin, _, destination, priority, message_type = levels
    for what, value in (("origin", origin), ("destination", destination)):
        error = party_id_error(value)
        if error:
            raise TopicError(f"{what}: {error}")
    if country != origin[:2]:
        raise TopicError(f"country level {country!r} is not the origin's country {origin[:2]!r}")
    if message_type not in MESSAGE_TYPES:
        raise TopicError(f"type: {message_type[:40]!r} is not a registered message type")
    if priority != priority_of(message_type).value:
        raise TopicError(
            f"class: {message_type} is {priority_of(message_type).value}, not {priority[:20]!r}"
        )
    return Route(origin, destination, message_type)


def publish_patterns(node_id: str) -> list[str]:
    """The MQTT topic filters `node_id` may publish to: its own subtree, nothing else."""
    return [f"{node_prefix(node_id)}/#"]


def subscribe_patterns(node_id: str) -> list[str]:
    """The MQTT topic filters `node_id` subscribes to and may read: what is addressed to it."""
    validate_node_id(node_id)
    return [f"{ROOT}/+/+/{TO}/{node_id}/#"]


def peer_patterns(node_id: str, peer_id: str) -> list[str]:
    """What `node_id` publishes for `peer_id`: the topics a bridge to that peer forwards."""
    validate_node_id(peer_id)
    return [f"{node_prefix(node_id)}/{TO}/{peer_id}/#"]
