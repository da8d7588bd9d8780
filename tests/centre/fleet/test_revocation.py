"""A revoked box, on the centre's side: the operator revokes an enrolled box; the CA's CRL lists
its serial, every other enrolled box is sent a `revocation`, and the centre's own inbox (the
real one, on SQLite and PostgreSQL) quarantines the revoked box's next message, on this
instance at once and on another at its next refresh."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography import x509

from centre.audit import audit_entries
from centre.box_events import centre_acknowledger, centre_appliers
from centre.fleet.enrolment import EnrolmentError, Enrolments
from centre.fleet.enrolment_api import Limits
from centre.fleet.revocation import CentreRevocations, load_crl
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.keys import fingerprint
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Outcome
from sync.messages import RevocationMessage
from sync.setup import TrustedKeys, key_lookup
from tests.centre.boxes import Box, arrival
from tests.centre.conftest import CENTRE, Centre
from tests.centre.fleet.test_enrolment import (
    ALTYNKOL,
    DOSTYK,
    Enrolling,
    serving,
    settings_for,
)


def centre_inbox(centre: Centre, keys: TrustedKeys) -> Inbox:
    return Inbox(
        centre.engine, CENTRE, keys, centre_appliers(centre.outbox),
        acknowledge=centre_acknowledger(centre.outbox),
    )  # fmt: skip


@pytest.fixture
def revoking(centre: Centre, tmp_path: Path) -> Iterator[tuple[Enrolling, TrustedKeys]]:
    keys = key_lookup(TrustStore.load(centre.fleet.trust_store))
    revocations = CentreRevocations(centre.engine, keys)
    settings = settings_for(centre.fleet, tmp_path)
    enrolments = Enrolments(centre.engine, centre.outbox, settings, on_revoked=revocations.refresh)
    with serving(enrolments, centre, Limits()) as url:
        yield Enrolling(centre, enrolments, url, tmp_path), keys


def enrolled_box(enrolling: Enrolling, node: str) -> Box:
    """A box enrolled over HTTP (pre-registered), sending with the identity it installed."""
    enrolling.enrolments.register(node, f"SN-{node}", operator="olga")
    box = enrolling.box(node, f"SN-{node}")
    box.prepare()
    box.install(box.request())
    fleet = dataclasses.replace(
        enrolling.centre.fleet, nodes={**enrolling.centre.fleet.nodes, node: box.paths.identity_dir}
    )
    return Box(fleet, node, enrolling.root / f"{node}-store")


def test_a_revoked_box_is_on_the_crl_told_to_every_box_and_refused_by_the_centres_inbox(
    revoking: tuple[Enrolling, TrustedKeys],
) -> None:
    enrolling, keys = revoking
    centre = enrolling.centre
    revoked, other = enrolled_box(enrolling, ALTYNKOL), enrolled_box(enrolling, DOSTYK)
    inbox = centre_inbox(centre, keys)
    # Before: its messages are taken (and its key is in the lookup's cache).
    assert [r.outcome for r in inbox.receive(revoked.send([arrival(ALTYNKOL, 1)]))] == [
        Outcome.APPLIED
    ]
    certificate = x509.load_pem_x509_certificate(
        (enrolling.root / ALTYNKOL / "identity" / NODE_CERT).read_bytes()
    )

    enrolling.enrolments.revoke(ALTYNKOL, operator="olga", reason="stolen from the post")

    crl = load_crl(enrolling.enrolments.settings.crl_file)
    assert crl.is_signature_valid(enrolling.enrolments.ca.key.public_key())
    assert crl.get_revoked_certificate_by_serial_number(certificate.serial_number) is not None
    assert len(list(crl)) == 1
    [told] = [e.payload for e in centre.sent(DOSTYK) if isinstance(e.payload, RevocationMessage)]
    assert isinstance(told, RevocationMessage)
    assert told.serials == (format(certificate.serial_number, "x"),)
    assert told.keys == (fingerprint(certificate.public_key()).hex,)  # type: ignore[arg-type]
    assert not [e for e in centre.sent(ALTYNKOL) if isinstance(e.payload, RevocationMessage)]
    [entry] = [
        e for e in audit_entries(centre.engine, f"box:{ALTYNKOL}") if e.action == "fleet.revoke"
    ]
    assert (entry.operator, entry.reason) == ("olga", "stolen from the post")

    # After: its next message is quarantined; the other box's still go through.
    [result] = inbox.receive(revoked.send([arrival(ALTYNKOL, 2)]))
    assert result.outcome is Outcome.QUARANTINED
    assert "revoked" in (result.detail or "")
    [result] = inbox.receive(other.send([arrival(DOSTYK, 1)]))
    assert result.outcome is Outcome.APPLIED

    # Another instance of the centre learns it from the store at its next refresh.
    elsewhere = key_lookup(TrustStore.load(centre.fleet.trust_store))
    second = centre_inbox(centre, elsewhere)
    assert CentreRevocations(centre.engine, elsewhere).refresh() is True
    [result] = second.receive(revoked.send([arrival(ALTYNKOL, 3)]))
    assert result.outcome is Outcome.QUARANTINED


def test_only_an_enrolled_box_is_revoked_and_a_revoked_box_cannot_ask_again(
    revoking: tuple[Enrolling, TrustedKeys],
) -> None:
    enrolling, _keys = revoking
    enrolled_box(enrolling, ALTYNKOL)
    with pytest.raises(EnrolmentError, match="no such box"):
        enrolling.enrolments.revoke(DOSTYK, operator="olga", reason="typo")
    with pytest.raises(ValueError, match="reason: empty"):
        enrolling.enrolments.revoke(ALTYNKOL, operator="olga", reason=" ")
    enrolling.enrolments.revoke(ALTYNKOL, operator="olga", reason="stolen")
    with pytest.raises(EnrolmentError, match="revoked; only an enrolled box"):
        enrolling.enrolments.revoke(ALTYNKOL, operator="olga", reason="again")
    box = enrolling.box(ALTYNKOL, f"SN-{ALTYNKOL}")
    answer = box.request()
    assert (answer.state, answer.reason) == ("revoked", "stolen")
    # A box enrolled after the revocation gets it in its trust store.
    enrolled_box(enrolling, DOSTYK)
    store = TrustStore.load(enrolling.root / DOSTYK / "etc" / "trust.toml")
    assert store.revoked == enrolling.enrolments.revocations()
    assert len(store.revoked.serials) == 1
