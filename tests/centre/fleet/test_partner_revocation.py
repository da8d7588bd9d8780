"""A box revoked in one country is refused in the partner's too: the KZ centre revokes its box
KZ-KORGAS-1 and sends the revocation, with the certificate, to KG-CIS; KG-CIS checks the
certificate was issued by the KZ CA, stores it (on SQLite and PostgreSQL), refuses the box's
envelopes (its relayed exit confirmation too) and tells its own box KG-TORUGART-1, whose inbox
then refuses the revoked box as well. A partner may revoke only its own country's boxes, and a
node that is no partner centre may revoke nothing. The broker hops are played by handing each
outbox's envelopes to the next inbox, as the broker would deliver them; and once both centres
as `carec-edge centre run` builds them, over their file bundles."""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from sqlalchemy import insert, select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import CentreConfig, FleetSection
from centre.fleet.enrolment import Enrolments
from centre.fleet.partner_revocation import partner_revocation_applier
from centre.fleet.retention import purge_fleet
from centre.fleet.revocation import CentreRevocations
from centre.partner_inbox import Relaying, partner_appliers
from centre.relay_tap import RelayTap
from centre.routing import Routing
from centre.service import CentreService
from centre.store.schema import fleet_boxes, fleet_partner_revocations
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.store.schema import outbox
from edge.timeutil import utcnow
from provisioning.fleet.revocation import revocation_applier
from provisioning.identity.csr import NODE_CERT, NODE_CSR, NODE_KEY
from provisioning.identity.fleet import Fleet
from provisioning.identity.keys import fingerprint
from provisioning.identity.trust import TrustStore
from sync.apply import appliers
from sync.envelope import Envelope
from sync.inbox import Inbox, Incoming, Outcome, Result
from sync.messages import ExitConfirmationMessage, RevocationMessage
from sync.relay import relay_effects
from sync.setup import TrustedKeys, key_lookup
from sync.topics import topic_of
from tests.centre.boxes import Box
from tests.centre.conftest import (
    CENTRE,
    KG_CENTRE,
    KORGAS,
    NURZHOLY,
    ROUTING,
    TORUGART,
    Centre,
    make_centre,
)
from tests.centre.fleet.test_enrolment import settings_for
from tests.fixtures.records import record


@dataclass
class PartnerCentre:
    """KG-CIS as its service wires it: its inbox with the partner appliers (the revocation's
    among them) and the key lookup its revocations keep refusing."""

    centre: Centre
    keys: TrustedKeys
    revocations: CentreRevocations
    inbox: Inbox

    def receive(self, incoming: Sequence[Incoming]) -> list[Result]:
        return self.inbox.receive(list(incoming))

    def stored(self) -> list[tuple[str, str, str, str]]:
        table = fleet_partner_revocations.c
        query = select(table.country, table.serial, table.key_fingerprint, table.received_from)
        with self.centre.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]


@dataclass
class EntryPost:
    """KG-TORUGART-1: its store, its own trust store file and the inbox its service wires,
    taking revocations from its centre, KG-CIS, only."""

    box: Box
    keys: TrustedKeys
    inbox: Inbox


def handed(envelopes: Sequence[tuple[Envelope, bytes]]) -> list[Incoming]:
    return [Incoming("broker", topic_of(envelope), data) for envelope, data in envelopes]


def of_type(sender: Centre, to: str, message_type: str) -> list[Incoming]:
    return handed([(e, data) for e, data in sender.sent_raw(to) if e.type == message_type])


def kg_centre(url: str, fleet: Fleet) -> PartnerCentre:
    kg = make_centre(url, fleet, KG_CENTRE, Routing({"KG417000": [TORUGART]}, {"KZ": CENTRE}))
    trust = TrustStore.load(fleet.trust_store)
    keys = key_lookup(trust)
    revocations = CentreRevocations(kg.engine, keys)
    revoking = partner_revocation_applier(trust, {CENTRE: "KZ"}, kg.outbox, revocations.add)
    partners = partner_appliers(
        kg.desk, {CENTRE: "cie"}, None, Relaying(keys, frozenset({TORUGART}))
    )
    inbox = Inbox(
        kg.engine, KG_CENTRE, keys,
        centre_appliers(kg.outbox, {**partners, "revocation": revoking}),
        acknowledge=centre_acknowledger(kg.outbox),
    )  # fmt: skip
    with kg.engine.begin() as conn:  # its own box, enrolled
        now = utcnow()
        conn.execute(insert(fleet_boxes).values(
            node_id=TORUGART, serial="SN-TORUGART", state="enrolled", created_at=now,
            decided_at=now, decided_by="aibek",
        ))  # fmt: skip
    return PartnerCentre(kg, keys, revocations, inbox)


@pytest.fixture
def kg(database_url: str, fleet: Fleet) -> PartnerCentre:
    return kg_centre(database_url, fleet)


@pytest.fixture
def kz(tmp_path: Path, fleet: Fleet) -> Centre:
    url = f"sqlite:///{tmp_path / 'kz.sqlite3'}"
    return make_centre(url, fleet, CENTRE, Routing(ROUTING, {"KG": KG_CENTRE}))


@pytest.fixture
def kz_enrolments(kz: Centre, tmp_path: Path) -> Enrolments:
    settings = settings_for(kz.fleet, tmp_path, partner_centres=(KG_CENTRE,))
    return Enrolments(kz.engine, kz.outbox, settings)


def enrolled(enrolments: Enrolments, fleet: Fleet, node: str, root: Path) -> Box:
    """`node` enrolled by the KZ centre (pre-registered, then its CSR), signing with the
    certificate the KZ CA issued it."""
    serial = f"SN-{node}"
    enrolments.register(node, serial, operator="olga")
    answer = enrolments.request(serial, (fleet.nodes[node] / NODE_CSR).read_bytes())
    assert answer.state == "enrolled"
    assert answer.certificate
    identity = root / node / "identity"
    identity.mkdir(parents=True)
    shutil.copy(fleet.nodes[node] / NODE_KEY, identity / NODE_KEY)
    (identity / NODE_CERT).write_text(answer.certificate, encoding="ascii")
    return Box(dataclasses.replace(fleet, nodes={**fleet.nodes, node: identity}), node,
               root / node / "store")  # fmt: skip


def entry_post(fleet: Fleet, root: Path) -> EntryPost:
    """KG-TORUGART-1 with a trust store file of its own (the fleet's CAs, by absolute path)."""
    trust_file = root / "torugart-trust.toml"
    trust_file.write_text(
        "".join(
            f'[[authority]]\ncertificate = "{fleet.root / f"ca-{c}" / "ca.crt"}"\n'
            f'countries = ["{c}"]\n\n'
            for c in ("KG", "KZ")
        ),
        encoding="utf-8",
    )
    box = Box(fleet, TORUGART, root / "torugart")
    keys = key_lookup(TrustStore.load(trust_file))
    applying = appliers(ManifestCache(box.engine), box.outbox)
    applying["relay"] = relay_effects(keys, TORUGART, applying)
    applying["revocation"] = revocation_applier(keys, trust_file, issuers={KG_CENTRE})
    return EntryPost(box, keys, Inbox(box.engine, TORUGART, keys, applying))


def exit_confirmation(node: str, ref: str) -> ExitConfirmationMessage:
    manifest = parse_manifest(record(ref=ref, office_destination="KG417000"))
    return ExitConfirmationMessage(
        record=manifest, exited_at=utcnow(), seals=manifest.seals, exit_node=node
    )


def revocation_of(*certificates: x509.Certificate) -> RevocationMessage:
    return RevocationMessage(
        serials=tuple(format(c.serial_number, "x") for c in certificates),
        keys=tuple(fingerprint(c.public_key()).hex for c in certificates),  # type: ignore[arg-type]
        certificates=tuple(c.public_bytes(Encoding.PEM).decode("ascii") for c in certificates),
        revoked_at=utcnow(),
    )


def certificate_of(fleet: Fleet, node: str) -> x509.Certificate:
    return x509.load_pem_x509_certificate((fleet.nodes[node] / NODE_CERT).read_bytes())


def outcomes(results: Sequence[Result]) -> list[Outcome]:
    return [r.outcome for r in results]


def test_a_box_its_centre_revoked_is_refused_by_the_partner_centre_and_the_partners_post(
    kz: Centre, kz_enrolments: Enrolments, kg: PartnerCentre, fleet: Fleet, tmp_path: Path
) -> None:
    exit_post = enrolled(kz_enrolments, fleet, KORGAS, tmp_path)
    torugart = entry_post(fleet, tmp_path)
    # Before: the KG centre and the KG post take what the KZ exit post signed.
    assert outcomes(kg.receive(exit_post.send([exit_confirmation(KORGAS, "26KZ00010000000201")],
                                              KG_CENTRE))) == [Outcome.APPLIED]  # fmt: skip
    sent = exit_post.send([exit_confirmation(KORGAS, "26KZ00010000000202")], TORUGART)
    assert outcomes(torugart.inbox.receive(sent)) == [Outcome.APPLIED]
    # An exit confirmation the KZ centre relays to KG, still on its way when the box is revoked.
    kz_keys = key_lookup(TrustStore.load(fleet.trust_store))
    kz_inbox = Inbox(kz.engine, CENTRE, kz_keys, centre_appliers(kz.outbox),
                     acknowledge=centre_acknowledger(kz.outbox))  # fmt: skip
    tap = RelayTap(kz.engine, kz.outbox, kz_keys, {"KG": KG_CENTRE}, kz_inbox)
    relayed = exit_post.send([exit_confirmation(KORGAS, "26KZ00010000000203")], TORUGART)
    assert outcomes(tap.receive(relayed)) == [Outcome.APPLIED]

    kz_enrolments.revoke(KORGAS, operator="olga", reason="stolen from the post")

    # The KZ centre sends KG-CIS the revocation with the certificate its CA issued.
    with kz.engine.connect() as conn:
        issued = conn.execute(
            select(fleet_boxes.c.certificate).where(fleet_boxes.c.node_id == KORGAS)
        ).scalar_one()
    certificate = x509.load_pem_x509_certificate(issued.encode())
    [told] = [e.payload for e in kz.sent(KG_CENTRE) if isinstance(e.payload, RevocationMessage)]
    assert told.certificates == (issued,)
    assert told.serials == (format(certificate.serial_number, "x"),)
    # The control class goes first: the revocation reaches KG-CIS before the relay.
    assert outcomes(kg.receive(of_type(kz, KG_CENTRE, "revocation"))) == [Outcome.APPLIED]
    key = fingerprint(certificate.public_key()).hex  # type: ignore[arg-type]
    assert kg.stored() == [("KZ", format(certificate.serial_number, "x"), key, CENTRE)]

    # KG-CIS refuses the revoked box at once: its own envelope, and its relayed one.
    [direct] = kg.receive(
        exit_post.send([exit_confirmation(KORGAS, "26KZ00010000000204")], KG_CENTRE)
    )
    assert direct.outcome is Outcome.QUARANTINED
    assert "revoked" in (direct.detail or "")
    [relay] = kg.receive(of_type(kz, KG_CENTRE, "relay"))
    assert relay.outcome is Outcome.QUARANTINED
    assert "revoked" in (relay.detail or "")
    assert not [e for e in kg.centre.sent(TORUGART) if e.type == "relay"]
    # Another KG-CIS instance learns it from the store at its next refresh.
    elsewhere = key_lookup(TrustStore.load(fleet.trust_store))
    assert CentreRevocations(kg.centre.engine, elsewhere).refresh() is True
    assert elsewhere.trust.revoked.serials == {certificate.serial_number}

    # KG-CIS tells its own box, signed by itself; the box then refuses the revoked KZ box.
    [forwarded] = kg.centre.sent(TORUGART)
    assert forwarded.origin == KG_CENTRE
    assert isinstance(forwarded.payload, RevocationMessage)
    assert forwarded.payload.keys == (key,)
    assert outcomes(torugart.inbox.receive(handed(kg.centre.sent_raw(TORUGART)))) == [
        Outcome.APPLIED
    ]
    [after] = torugart.inbox.receive(
        exit_post.send([exit_confirmation(KORGAS, "26KZ00010000000205")], TORUGART)
    )
    assert after.outcome is Outcome.QUARANTINED
    assert "revoked" in (after.detail or "")

    # The same revocation again (another message) stores and tells nothing more.
    again = Box(fleet, CENTRE, tmp_path / "kz-again")
    assert outcomes(kg.receive(again.send([told], KG_CENTRE))) == [Outcome.APPLIED]
    assert len(kg.stored()) == 1
    assert len(kg.centre.sent(TORUGART)) == 1


def test_a_partner_centre_may_not_revoke_a_box_of_another_country(
    kg: PartnerCentre, fleet: Fleet, tmp_path: Path
) -> None:
    kz_centre = Box(fleet, CENTRE, tmp_path / "kz")
    own_box = Box(fleet, TORUGART, tmp_path / "torugart")
    [result] = kg.receive(kz_centre.send([revocation_of(certificate_of(fleet, TORUGART))],
                                         KG_CENTRE))  # fmt: skip
    assert result.outcome is Outcome.QUARANTINED
    assert f"{TORUGART} is of KG; a centre of KZ revokes boxes of KZ only" in (result.detail or "")
    assert kg.stored() == []
    assert kg.centre.sent(TORUGART) == []
    # Nothing refused: the KG box's messages still go through.
    [taken] = kg.receive(own_box.send([exit_confirmation(TORUGART, "26KZ00010000000301")],
                                      KG_CENTRE))  # fmt: skip
    assert taken.outcome is Outcome.APPLIED


def test_a_revocation_mixing_its_own_countrys_box_with_anothers_is_refused_whole(
    kg: PartnerCentre, fleet: Fleet, tmp_path: Path
) -> None:
    kz_centre = Box(fleet, CENTRE, tmp_path / "kz")
    mixed = revocation_of(certificate_of(fleet, KORGAS), certificate_of(fleet, TORUGART))
    [result] = kg.receive(kz_centre.send([mixed], KG_CENTRE))
    assert result.outcome is Outcome.QUARANTINED
    assert kg.stored() == []
    assert kg.keys.trust.revoked.serials == frozenset()


@pytest.mark.parametrize(
    ("sender", "change", "why"),
    [
        (NURZHOLY, {}, f"{NURZHOLY} is no partner centre of this centre"),
        (CENTRE, {"certificates": None}, "must carry the revoked certificates"),
        (CENTRE, {"serials": ("abc123",)}, "abc123 is named but none of the revocation's"),
        (CENTRE, {"certificates": ("-----BEGIN CERTIFICATE-----\nnot one\n",)}, "certificates[0]"),
    ],
    ids=["not-a-partner", "no-certificate", "a-serial-no-certificate-holds", "not-a-certificate"],
)
def test_a_revocation_the_partner_centre_cannot_check_is_refused(
    kg: PartnerCentre, fleet: Fleet, tmp_path: Path, sender: str, change: dict[str, object],
    why: str,
) -> None:  # fmt: skip
    message = revocation_of(certificate_of(fleet, KORGAS))
    message = RevocationMessage.model_validate({**message.model_dump(), **change})
    [result] = kg.receive(Box(fleet, sender, tmp_path / "sender").send([message], KG_CENTRE))
    assert result.outcome is Outcome.QUARANTINED
    assert why in (result.detail or "")
    assert kg.stored() == []
    assert kg.centre.sent(TORUGART) == []


def test_a_partner_revocation_is_kept_until_its_certificate_has_ended(
    kg: PartnerCentre, fleet: Fleet, tmp_path: Path
) -> None:
    certificate = certificate_of(fleet, KORGAS)
    kz_centre = Box(fleet, CENTRE, tmp_path / "kz")
    assert outcomes(kg.receive(kz_centre.send([revocation_of(certificate)], KG_CENTRE))) == [
        Outcome.APPLIED
    ]
    settings = FleetSection()
    ended = certificate.not_valid_after_utc

    def purged(system_now: dt.datetime) -> int:  # a certificate's end: the system clock
        with kg.centre.engine.begin() as conn:
            return purge_fleet(conn, settings, utcnow(), system_now=system_now)[
                "partner_revocations"
            ]

    assert purged(ended) == 0
    assert purged(ended + dt.timedelta(hours=23)) == 0
    assert len(kg.stored()) == 1
    assert purged(ended + dt.timedelta(days=2)) == 1
    assert kg.stored() == []


def sie_config(
    pki: Fleet, node: str, url: str, out: Path, into: Path, **more: object
) -> CentreConfig:
    """A centre whose one partner (KZ's is KG's, KG's is KZ's) is reached by file bundles."""
    partner = KG_CENTRE if node == CENTRE else CENTRE
    return CentreConfig.model_validate({
        "centre": {"id": node, "database": url},
        "identity": {"identity_dir": pki.nodes[node], "trust_store": pki.trust_store},
        "partners": [{"country": partner[:2], "centre": partner, "mode": "sie",
                      "bundle_out": out, "bundle_in": into}],
        **more,
    })  # fmt: skip


def test_both_centres_as_they_run_carry_a_revocation_over_their_file_bundles(
    database_url: str, fleet: Fleet, tmp_path: Path
) -> None:
    kz_to_kg, kg_to_kz = tmp_path / "kz-to-kg", tmp_path / "kg-to-kz"
    enrolment = {"ca_dir": fleet.root / "ca-KZ", "crl_file": tmp_path / "crl.pem"}
    kz = CentreService.build(
        sie_config(fleet, CENTRE, f"sqlite:///{tmp_path / 'kz.sqlite3'}", kz_to_kg, kg_to_kz,
                   fleet={"enrolment": enrolment})
    )  # fmt: skip
    kg = CentreService.build(
        sie_config(fleet, KG_CENTRE, database_url, kg_to_kz, kz_to_kg,
                   routing={"KG417000": [TORUGART]})
    )  # fmt: skip
    try:
        assert kz.enrolments is not None
        exit_post = enrolled(kz.enrolments, fleet, KORGAS, tmp_path)
        with kg.engine.begin() as conn:
            now = utcnow()
            conn.execute(insert(fleet_boxes).values(
                node_id=TORUGART, serial="SN-TORUGART", state="enrolled", created_at=now,
            ))  # fmt: skip

        kz.enrolments.revoke(KORGAS, operator="olga", reason="stolen from the post")
        kz.exchange_bundles(kz.config.partners[0])
        kg.exchange_bundles(kg.config.partners[0])

        with kg.engine.connect() as conn:
            stored = conn.execute(select(fleet_partner_revocations.c.node_id)).scalars().all()
            told = conn.execute(
                select(outbox.c.type).where(outbox.c.destination == TORUGART)
            ).scalars().all()  # fmt: skip
        assert (stored, told) == ([KORGAS], ["revocation"])
        [result] = kg.inbox.receive(
            exit_post.send([exit_confirmation(KORGAS, "26KZ00010000000401")], KG_CENTRE)
        )
        assert result.outcome is Outcome.QUARANTINED
        assert "revoked" in (result.detail or "")
    finally:
        kz.close()
        kg.close()
