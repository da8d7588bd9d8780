"""What partner centres send this centre, applied inside the inbox's transaction.

A partner's relayed exit confirmation (`relay`, see `sync.relay`) is checked under its exit
post's signature, given to this CIS's feed and relayed on to the entry post it names.
A partner's record (`manifest`) concerns this country's offices: over a CIE link it is stored
and routed to this country's boxes at once (never on to another partner); over a SIE link it
is held in the review queue until an operator approves it (its relayed exit confirmations
too). A partner's withdrawal cancels its record here and withdraws it from the boxes. (A
partner's revocation of its own boxes is `centre.fleet.partner_revocation`'s.) A message from
a node that is no partner centre of ours is refused, and the inbox quarantines it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Connection

from centre.box_events import feed_events
from centre.records import RecordDesk
from sync.envelope import Envelope, KeyLookup
from sync.inbox import Applier, Effects
from sync.messages import ManifestMessage, ManifestWithdrawalMessage, RelayMessage
from sync.relay import open_relayed

# Hold one partner message for review: (conn, partner centre id, the envelope) -> None.
Hold = Callable[[Connection, str, Envelope], None]


class NotAPartnerError(ValueError):
    """A record or withdrawal from a node this centre has no partner link with."""


@dataclass(frozen=True)
class Relaying:
    """What a centre needs to carry a partner's relayed exit confirmations to its posts."""

    key_for: KeyLookup
    own_nodes: frozenset[str]  # the posts of this country it relays to


def partner_appliers(
    desk: RecordDesk, modes: Mapping[str, str], hold: Hold | None,
    relaying: Relaying | None = None,
) -> dict[str, Applier]:  # fmt: skip
    """Appliers for `manifest`, `manifest_withdrawal` and `relay` from partner centres;
    `modes` maps each partner centre id to its link's mode, `cie` or `sie`."""

    def mode_of(envelope: Envelope) -> str:
        mode = modes.get(envelope.origin)
        if mode is None:
            raise NotAPartnerError(f"{envelope.origin} is no partner centre of this centre")
        if mode == "sie" and hold is None:
            raise NotAPartnerError(f"{envelope.origin}: no review queue to hold its records")
        return mode

    def manifests(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            if mode_of(envelope) == "sie":
                assert hold is not None
                hold(conn, envelope.origin, envelope)
                continue
            payload = envelope.payload
            assert isinstance(payload, ManifestMessage)
            desk.submit([payload.record], f"partner:{envelope.origin}", conn, partners=False)

    def withdrawals(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        # Applied over either kind of link: a withdrawal adds no record, it only takes one back.
        # (One for a record still waiting for review finds nothing to cancel here.)
        for envelope in envelopes:
            mode_of(envelope)
            apply_withdrawal(desk, conn, envelope)

    def relays(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        for envelope in envelopes:
            if mode_of(envelope) == "sie":
                assert hold is not None
                hold(conn, envelope.origin, envelope)
            else:
                apply_relay(desk, conn, envelope, relaying)

    return {
        "manifest": Effects(manifests),
        "manifest_withdrawal": Effects(withdrawals),
        "relay": Effects(relays),
    }


def apply_relay(
    desk: RecordDesk, conn: Connection, envelope: Envelope, relaying: Relaying | None
) -> None:
    """A partner's relayed exit confirmation: into this CIS's feed, and on to the post it is
    addressed to, still under its exit post's signature."""
    if relaying is None:
        raise NotAPartnerError(f"{envelope.origin}: this centre relays nothing to its posts")
    payload = envelope.payload
    assert isinstance(payload, RelayMessage)
    inner, jws = open_relayed(envelope, relaying.key_for, relaying.own_nodes.__contains__)
    feed_events(conn, [inner])
    onward = RelayMessage(envelope=jws.decode("ascii"), via=(*payload.via, desk.node_id))
    desk.outbox.send_many([(onward, inner.destination, None)], conn)


def apply_partner_message(
    desk: RecordDesk, conn: Connection, envelope: Envelope, relaying: Relaying | None = None
) -> None:
    """What an approved held message does: the same as over a CIE link."""
    payload = envelope.payload
    if isinstance(payload, ManifestMessage):
        desk.submit([payload.record], f"partner:{envelope.origin}", conn, partners=False)
    elif isinstance(payload, RelayMessage):
        apply_relay(desk, conn, envelope, relaying)
    else:
        apply_withdrawal(desk, conn, envelope)


def apply_withdrawal(desk: RecordDesk, conn: Connection, envelope: Envelope) -> None:
    payload = envelope.payload
    assert isinstance(payload, ManifestWithdrawalMessage)
    if payload.issuer[:2] != envelope.origin[:2]:
        raise NotAPartnerError(
            f"{envelope.origin} withdraws a record of {payload.issuer}, not its own country's"
        )
    desk.cancel(payload.issuer, payload.ref, f"partner:{envelope.origin}", conn)
