"""A revoked box, on a peer box's side: the centre's `revocation` reaches the peer's real inbox
(a SQLite file), goes into its trust store file and its in-memory trust store at once, and the
revoked box's next message is quarantined, though its key was in the lookup's cache. Only the
centre may revoke."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509

from edge.store import open_database
from provisioning.fleet.revocation import revocation_applier, write_revoked
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.keys import fingerprint
from provisioning.identity.trust import Revocations, TrustStore
from sync.apply import record_events
from sync.inbox import Applier, Effects, Inbox, Outcome
from sync.messages import RevocationMessage
from sync.setup import TrustedKeys, key_lookup
from tests.centre.boxes import Box, arrival

CENTRE, NURZHOLY, KORGAS = "KZ-CIS", "KZ-NURZHOLY-1", "KZ-KORGAS-1"
COMMENT = "# the fleet's trust store: kept by hand and by the centre's revocations"


@dataclass
class Peer:
    """KZ-KORGAS-1 as its service wires it: its store, its trust store file, its inbox."""

    inbox: Inbox
    keys: TrustedKeys
    trust_file: Path


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return make_fleet(tmp_path / "fleet", [CENTRE, NURZHOLY, KORGAS])


@pytest.fixture
def peer(fleet: Fleet, tmp_path: Path) -> Peer:
    trust_file = fleet.root / "korgas-trust.toml"  # beside the CA files it names
    trust_file.write_text(f"{COMMENT}\n{fleet.trust_store.read_text()}", encoding="utf-8")
    keys = key_lookup(TrustStore.load(trust_file))
    appliers: dict[str, Applier] = {
        "arrival": Effects(record_events),
        "revocation": revocation_applier(keys, trust_file, issuers={CENTRE}),
    }
    engine = open_database(tmp_path / "korgas")
    return Peer(Inbox(engine, KORGAS, keys, appliers), keys, trust_file)


def certificate_of(fleet: Fleet, node: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((fleet.nodes[node] / NODE_CERT).read_bytes())


def revocation_of(certificate: x509.Certificate) -> RevocationMessage:
    return RevocationMessage(
        serials=(format(certificate.serial_number, "x"),),
        keys=(fingerprint(certificate.public_key()).hex,),  # type: ignore[arg-type]
        revoked_at=dt.datetime.now(dt.UTC),
    )


def test_the_centres_revocation_quarantines_the_revoked_boxs_next_message(
    fleet: Fleet, peer: Peer, tmp_path: Path
) -> None:
    revoked = Box(fleet, NURZHOLY, tmp_path / "nurzholy")
    centre = Box(fleet, CENTRE, tmp_path / "centre")
    [before] = peer.inbox.receive(revoked.send([arrival(NURZHOLY, 1)], KORGAS))
    assert before.outcome is Outcome.APPLIED  # and its key is now in the lookup's cache

    certificate = certificate_of(fleet, NURZHOLY)
    [applied] = peer.inbox.receive(centre.send([revocation_of(certificate)], KORGAS))
    assert applied.outcome is Outcome.APPLIED

    [after] = peer.inbox.receive(revoked.send([arrival(NURZHOLY, 2)], KORGAS))
    assert after.outcome is Outcome.QUARANTINED
    assert f"serial {certificate.serial_number:x} is revoked" in (after.detail or "")
    # The file says so too (a restart keeps it), and the rest of it is as it was.
    text = peer.trust_file.read_text()
    assert text.startswith(COMMENT)
    stored = TrustStore.load(peer.trust_file)
    assert certificate.serial_number in stored.revoked.serials
    assert fingerprint(certificate.public_key()).digest in stored.revoked.key_fingerprints  # type: ignore[arg-type]
    assert [a.name for a in stored.authorities] == [a.name for a in peer.keys.trust.authorities]


def test_a_revocation_from_anyone_but_the_centre_is_quarantined_and_changes_nothing(
    fleet: Fleet, peer: Peer, tmp_path: Path
) -> None:
    impostor = Box(fleet, NURZHOLY, tmp_path / "nurzholy")
    before = peer.trust_file.read_bytes()
    message = revocation_of(certificate_of(fleet, KORGAS))
    [result] = peer.inbox.receive(impostor.send([message], KORGAS))
    assert result.outcome is Outcome.QUARANTINED
    assert "KZ-NURZHOLY-1 may not revoke" in (result.detail or "")
    assert peer.trust_file.read_bytes() == before
    assert peer.keys.trust.revoked == Revocations()


def test_revoked_is_rewritten_alone_and_revoking_twice_changes_nothing(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [CENTRE, NURZHOLY])
    pin = "m1zVaCJ5mOJ0ZWdE1/DCuvPwZ0UvJr6Jm2fAxEMbMd0="
    trust_file = fleet.root / "trust-by-hand.toml"
    trust_file.write_text(
        '[[authority]]\ncertificate = "ca-KZ/ca.crt"\ncountries = ["KZ"]\n\n'
        '[revoked]\nserials = [\n  "abc",\n]\nkeys = []  # none yet\n\n'
        f'[[pinned]]\nnode = "KG-CIS"\npublic_key = "{pin}"\n',
        encoding="utf-8",
    )
    first = write_revoked(trust_file, Revocations(serials=frozenset({0xDEF})))
    assert first.serials == {0xABC, 0xDEF}
    store = TrustStore.load(trust_file)
    assert [str(n) for n in store.pinned] == ["KG-CIS"]
    text = trust_file.read_text()
    assert write_revoked(trust_file, Revocations(serials=frozenset({0xABC}))) == first
    assert trust_file.read_text() == text
