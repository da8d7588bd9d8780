"""What partner centres send this centre, applied inside the inbox's transaction.

A partner's record (`manifest`) concerns this country's offices: over a CIE link it is stored
and routed to this country's boxes at once (never on to another partner); over a SIE link it
is held in the review queue until an operator approves it. A partner's withdrawal cancels its
record here and withdraws it from the boxes (held for review too over SIE). A message from a
node that is no partner centre of ours is refused, and the inbox quarantines it.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from sqlalchemy import Connection

from centre.records import RecordDesk
from sync.envelope import Envelope
from sync.inbox import Applier, Effects
from sync.messages import ManifestMessage, ManifestWithdrawalMessage

# Hold one partner message for review: (conn, partner centre id, the envelope) -> None.
Hold = Callable[[Connection, str, Envelope], None]


class NotAPartnerError(ValueError):
    """A record or withdrawal from a node this centre has no partner link with."""


def partner_appliers(
    desk: RecordDesk, modes: Mapping[str, str], hold: Hold | None
) -> dict[str, Applier]:
    """Appliers for `manifest` and `manifest_withdrawal` from partner centres; `modes` maps
    each partner centre id to its link's mode, `cie` or `sie`."""

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
        for envelope in envelopes:
            if mode_of(envelope) == "sie":
                assert hold is not None
                hold(conn, envelope.origin, envelope)
                continue
            apply_withdrawal(desk, conn, envelope)

    return {"manifest": Effects(manifests), "manifest_withdrawal": Effects(withdrawals)}


def apply_partner_message(desk: RecordDesk, conn: Connection, envelope: Envelope) -> None:
    """What an approved held message does: the same as over a CIE link."""
    payload = envelope.payload
    if isinstance(payload, ManifestMessage):
        desk.submit([payload.record], f"partner:{envelope.origin}", conn, partners=False)
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
