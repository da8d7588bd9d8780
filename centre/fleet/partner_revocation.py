"""A partner country's centre revoked one of its boxes: this centre refuses it too.

When an operator revokes a box (`centre.fleet.enrolment`), its centre sends a `revocation`
carrying the revoked certificate to every partner centre, whose posts and centre trust the
sender's CA. Here, from a configured partner centre only, each certificate is checked against
this centre's trust store: issued (directly) by a CA listed for its node's country, valid at the
revocation's time, and of the sender's own country (a centre revokes its own country's boxes,
never another's). A revocation that fails any check, that names a serial or key none of its
certificates holds, or that carries no certificate at all, is refused whole (the inbox
quarantines it with the reason); none is applied in part.

What is accepted is stored (`fleet_partner_revocations`, until the certificate ends), put in
this centre's key lookup at once (`on_accepted`; the other instances read it at their next
refresh, `centre.fleet.revocation.CentreRevocations`), and sent on, signed by this centre, to
every enrolled box of this country, which takes revocations from its own centre only.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography import x509
from sqlalchemy import Connection, delete, select
from sqlalchemy.dialects import postgresql, sqlite

from centre.store.schema import fleet_boxes, fleet_partner_revocations
from edge.logs import log_event
from edge.timeutil import utcnow
from provisioning.identity.errors import UntrustedError
from provisioning.identity.keys import fingerprint
from provisioning.identity.trust import Identity, Revocations, TrustStore
from sync.envelope import Envelope
from sync.inbox import Applier
from sync.messages import RevocationMessage
from sync.outbox import Outbox

log = logging.getLogger(__name__)

ENROLLED = "enrolled"  # centre.fleet.enrolment's state of a box that is told


class PartnerRevocationError(ValueError):
    """A partner's revocation refused whole, and why (the inbox quarantines it)."""


@dataclass(frozen=True)
class PartnerRevoked:
    """One certificate a partner centre revoked, as checked here."""

    country: str
    node_id: str
    serial: int
    key_fingerprint: bytes
    not_after: dt.datetime

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")


def partner_revocation_applier(
    trust: TrustStore,
    partners: Mapping[str, str],
    outbox: Outbox,
    on_accepted: Callable[[Revocations], object] | None = None,
) -> Applier:
    """The inbox's applier of `revocation` from partner centres. `trust`: this centre's trust
    store as its file has it; `partners`: each partner centre's node id -> its country."""
    # The certificates are revoked: what is checked is who issued them, not whether they are.
    issuers = dataclasses.replace(trust, revoked=Revocations())

    def apply(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, RevocationMessage)
        country = partners.get(envelope.origin)
        if country is None:
            raise PartnerRevocationError(
                f"{envelope.origin} is no partner centre of this centre; it may not revoke here"
            )
        revoked = checked_certificates(issuers, payload, country)
        fresh = store(conn, revoked, payload.revoked_at, envelope.origin)
        if not fresh:
            return
        told = tell_boxes(conn, outbox, fresh, payload.revoked_at)
        log_event(log, logging.WARNING, "fleet.partner_revocation_applied",
                  origin=envelope.origin, certificates=len(fresh), boxes=told)  # fmt: skip
        if on_accepted is not None:
            on_accepted(as_revocations(fresh))

    return apply


def checked_certificates(
    issuers: TrustStore, payload: RevocationMessage, country: str
) -> list[PartnerRevoked]:
    """Each certificate of the revocation, checked (PartnerRevocationError for the first that
    fails, or for serials and keys no certificate of it holds)."""
    if not payload.certificates:
        raise PartnerRevocationError(
            "a partner centre's revocation must carry the revoked certificates; it has none"
        )
    revoked: list[PartnerRevoked] = []
    for index, pem in enumerate(payload.certificates):
        # Whose it is and who issued it, checked when it was valid: it may have ended since.
        at: dt.datetime | None = None
        try:
            at = x509.load_pem_x509_certificate(pem.encode()).not_valid_before_utc
        except ValueError:
            at = None  # not a certificate: verify_certificate says why
        try:
            identity = issuers.verify_certificate(pem, at=at)
        except UntrustedError as error:
            raise PartnerRevocationError(f"certificates[{index}]: {error}") from None
        if identity.country != country:
            raise PartnerRevocationError(
                f"certificates[{index}]: {identity.node_id} is of {identity.country}; a centre "
                f"of {country} revokes boxes of {country} only"
            )
        revoked.append(_revoked(identity))
    serials = {r.serial_hex for r in revoked}
    keys = {r.key_fingerprint.hex() for r in revoked}
    stray = sorted(set(payload.serials) - serials) + sorted(set(payload.keys) - keys)
    if stray:
        raise PartnerRevocationError(
            f"{stray[0]} is named but none of the revocation's certificates holds it"
        )
    return revoked


def _revoked(identity: Identity) -> PartnerRevoked:
    return PartnerRevoked(
        country=identity.country,
        node_id=str(identity.node_id),
        serial=identity.serial,
        key_fingerprint=fingerprint(identity.public_key).digest,
        not_after=identity.not_after,
    )


def store(
    conn: Connection, revoked: list[PartnerRevoked], revoked_at: dt.datetime, origin: str
) -> list[PartnerRevoked]:
    """Insert what is not stored yet (another message, or instance, may have brought it);
    what was new."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    now = utcnow()
    fresh = []
    for item in revoked:
        row = {
            "country": item.country, "serial": item.serial_hex, "node_id": item.node_id,
            "key_fingerprint": item.key_fingerprint.hex(), "certificate_not_after": item.not_after,
            "revoked_at": revoked_at, "received_from": origin, "received_at": now,
        }  # fmt: skip
        statement = (
            dialect.insert(fleet_partner_revocations).values(row).on_conflict_do_nothing()
            .returning(fleet_partner_revocations.c.serial)
        )  # fmt: skip
        if conn.execute(statement).first() is not None:  # (rowcount: not on every driver)
            fresh.append(item)
    return fresh


def tell_boxes(
    conn: Connection, outbox: Outbox, revoked: list[PartnerRevoked], revoked_at: dt.datetime
) -> int:
    """A revocation of `revoked` (serials and keys), signed by this centre, to every enrolled
    box of its fleet; how many boxes."""
    boxes = conn.execute(
        select(fleet_boxes.c.node_id).where(fleet_boxes.c.state == ENROLLED)
        .order_by(fleet_boxes.c.node_id)
    ).scalars().all()  # fmt: skip
    if boxes:
        message = RevocationMessage(
            serials=tuple(r.serial_hex for r in revoked),
            keys=tuple(r.key_fingerprint.hex() for r in revoked),
            revoked_at=revoked_at,
        )
        outbox.send_many([(message, box, None) for box in boxes], conn)
    return len(boxes)


def as_revocations(revoked: list[PartnerRevoked]) -> Revocations:
    return Revocations(
        serials=frozenset(r.serial for r in revoked),
        key_fingerprints=frozenset(r.key_fingerprint for r in revoked),
    )


def partner_revocations(conn: Connection) -> Revocations:
    """Every stored partner revocation, for the key lookup and for the boxes' trust stores."""
    table = fleet_partner_revocations.c
    rows = conn.execute(select(table.serial, table.key_fingerprint)).all()
    return Revocations(
        serials=frozenset(int(row.serial, 16) for row in rows),
        key_fingerprints=frozenset(bytes.fromhex(row.key_fingerprint) for row in rows),
    )


def purge_partner_revocations(conn: Connection, now: dt.datetime, *, margin_days: int) -> int:
    """Retention: a revoked certificate that ended `margin_days` ago is refused as expired by
    every trust store; how many rows went."""
    before = now - dt.timedelta(days=margin_days)
    table = fleet_partner_revocations
    return int(conn.execute(delete(table).where(table.c.certificate_not_after < before)).rowcount)
