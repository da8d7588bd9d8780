"""Relayed envelopes: a node's signed envelope carried on by centres (`RelayMessage`).

An exit post addresses its exit confirmation to the partner's entry post, signed end to end.
Its own centre takes it off the national broker, takes custody (acknowledges it to the post,
in the transaction that queues it on) and relays it to the partner's centre, which relays it
to its entry post. Every hop checks the inner envelope itself, so the entry post believes what
the exit post said, not a centre's word for it.

A relay is checked twice. The outer envelope by the inbox, as any message: signed by the
centre that relayed it last. The inner one here: signed by its own origin (a node this
receiver trusts through its country's CA), of a type that may be relayed, addressed to a node
the receiver accepts (the entry post itself; for a centre, one of its country's nodes).
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence

import orjson
from sqlalchemy import Connection

from edge.timeutil import utcnow
from sync.envelope import Envelope, EnvelopeRejected, KeyLookup, open_envelope
from sync.inbox import Applier, Effects
from sync.messages import RelayMessage

# What may travel inside a relay: evidence that must cross centres with its origin's signature.
RELAYABLE = frozenset({"exit_confirmation"})


class RelayRefusedError(ValueError):
    """A relayed envelope that must not take effect: the inbox quarantines the relay."""


def claimed_destination(jws: bytes) -> str:
    """The destination an envelope names, read before it is verified (to know what to verify
    it against); RelayRefusedError when it is no envelope."""
    try:
        segment = jws.split(b".")[1]
        content = orjson.loads(base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4)))
        destination = content["destination"]
    except (IndexError, ValueError, KeyError, TypeError):
        raise RelayRefusedError("relay: the inner envelope is not a JWS envelope") from None
    if not isinstance(destination, str):
        raise RelayRefusedError("relay: the inner envelope names no destination")
    return destination


def open_inner(jws: bytes, key_for: KeyLookup, accepts: Callable[[str], bool]) -> Envelope:
    """An inner envelope verified against its origin's key, or RelayRefusedError."""
    destination = claimed_destination(jws)
    if not accepts(destination):
        raise RelayRefusedError(f"relay: the inner envelope is for {destination}, not taken here")
    try:
        inner = open_envelope(
            jws, key_for, expected_destination=destination, now=utcnow(), max_age=None
        )
    except EnvelopeRejected as error:
        raise RelayRefusedError(f"relay: inner envelope: {error}") from None
    if inner.type not in RELAYABLE:
        raise RelayRefusedError(f"relay: a {inner.type} is not relayed")
    return inner


def open_relayed(
    relay: Envelope, key_for: KeyLookup, accepts: Callable[[str], bool]
) -> tuple[Envelope, bytes]:
    """The inner envelope of `relay` (verified) and its bytes."""
    payload = relay.payload
    assert isinstance(payload, RelayMessage)  # the envelope's type guarantees it
    if payload.via[-1] != relay.origin:
        raise RelayRefusedError(f"relay: via ends with {payload.via[-1]}, signed by {relay.origin}")
    jws = payload.envelope.encode("ascii", errors="replace")
    return open_inner(jws, key_for, accepts), jws


def relay_effects(key_for: KeyLookup, node_id: str, appliers: Mapping[str, Applier]) -> Effects:
    """A post's applier of `relay` messages: each inner envelope, which must be addressed to
    this post, verified and applied by the applier of its own type (an `Effects`)."""

    def apply(conn: Connection, relays: Sequence[Envelope]) -> None:
        inner = [open_relayed(r, key_for, lambda d: d == node_id)[0] for r in relays]
        for kind in sorted({e.type for e in inner}):
            applier = appliers.get(kind)
            if not isinstance(applier, Effects):
                raise RelayRefusedError(f"relay: this node does not take {kind}")
            applier.apply_many(conn, [e for e in inner if e.type == kind])

    return Effects(apply)
