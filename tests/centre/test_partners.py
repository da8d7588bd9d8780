"""Centre to centre over a CIE link: a record for a partner's office goes signed to the
partner's centre, which routes it to its own boxes (and no further); amendments and
cancellations follow it; acknowledgements come back; a node that is no partner is refused.
The KZ centre on SQLite and on PostgreSQL, the KG centre on SQLite; the broker between them is
played by handing each outbox's envelopes to the other's inbox, as it would deliver them."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.partner_inbox import partner_appliers
from centre.routing import Routing
from edge.manifest import parse_manifest
from edge.store.schema import outbox
from provisioning.identity.fleet import Fleet
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Incoming
from sync.inbox import Outcome as Received
from sync.messages import ManifestMessage, ManifestWithdrawalMessage
from sync.setup import key_lookup
from sync.topics import topic_of
from tests.centre.boxes import Box
from tests.centre.conftest import (
    CENTRE,
    KG_CENTRE,
    NURZHOLY,
    ROUTING,
    TORUGART,
    Centre,
    make_centre,
)
from tests.fixtures.records import record

KG_ROUTING = {"KG417000": [TORUGART]}


def inbox_of(centre: Centre, partners: dict[str, str]) -> Inbox:
    appliers = centre_appliers(centre.outbox, partner_appliers(centre.desk, partners, hold=None))
    node = centre.outbox.signer.node_id
    return Inbox(
        centre.engine, node, key_lookup(TrustStore.load(centre.fleet.trust_store)), appliers,
        acknowledge=centre_acknowledger(centre.outbox),
    )  # fmt: skip


def deliver(sender: Centre, to: str, inbox: Inbox) -> list[Received]:
    """What `sender` has for `to`, handed to `to`'s inbox."""
    incoming = [
        Incoming("broker", topic_of(envelope), data) for envelope, data in sender.sent_raw(to)
    ]
    return [result.outcome for result in inbox.receive(incoming)]


@pytest.fixture
def kz(database_url: str, fleet: Fleet) -> Centre:
    return make_centre(database_url, fleet, CENTRE, Routing(ROUTING, {"KG": KG_CENTRE}))


@pytest.fixture
def kg(tmp_path: Path, fleet: Fleet) -> Centre:
    url = f"sqlite:///{tmp_path / 'kg.sqlite3'}"
    return make_centre(url, fleet, KG_CENTRE, Routing(KG_ROUTING, {"KZ": CENTRE}))


def to_kg(**changes: Any) -> dict[str, Any]:
    return record(office_destination="KG417000", **changes)


def test_a_record_for_a_partners_office_reaches_its_entry_post_through_both_centres(
    kz: Centre, kg: Centre
) -> None:
    [sent] = kz.desk.submit([parse_manifest(to_kg())], "api:kz-cis")
    assert KG_CENTRE in sent.routed_to
    assert sent.unserved_offices == ()
    assert deliver(kz, KG_CENTRE, inbox_of(kg, {CENTRE: "cie"})) == [Received.APPLIED]
    stored = kg.desk.get("KZ-CIS", sent.ref)
    assert stored is not None
    assert stored.source == f"partner:{CENTRE}"
    [at_torugart] = kg.sent(TORUGART)
    assert at_torugart.origin == KG_CENTRE  # signed by the centre the post trusts
    assert isinstance(at_torugart.payload, ManifestMessage)
    assert at_torugart.payload.record == parse_manifest(to_kg())
    # ... and not back to the KZ centre: a partner's record goes to this country's boxes only.
    assert [e.type for e in kg.sent(CENTRE)] == ["ack"]


def test_the_partners_acknowledgement_settles_the_senders_outbox(kz: Centre, kg: Centre) -> None:
    kz.desk.submit([parse_manifest(to_kg())], "api:kz-cis")
    deliver(kz, KG_CENTRE, inbox_of(kg, {CENTRE: "cie"}))
    assert deliver(kg, CENTRE, inbox_of(kz, {KG_CENTRE: "cie"})) == [Received.APPLIED]
    with kz.engine.connect() as conn:
        states = conn.execute(
            select(outbox.c.state).where(outbox.c.destination == KG_CENTRE)
        ).scalars()
        assert list(states) == ["delivered"]


def test_amendments_and_cancellations_follow_the_record_to_the_partners_posts(
    kz: Centre, kg: Centre
) -> None:
    kg_inbox = inbox_of(kg, {CENTRE: "cie"})
    ref = to_kg()["ref"]
    kz.desk.submit([parse_manifest(to_kg())], "api:kz-cis")
    kz.desk.submit([parse_manifest(to_kg(version=2, cmr="CMR-2"))], "api:kz-cis")
    kz.desk.cancel("KZ-CIS", ref, "api:kz-cis")
    assert deliver(kz, KG_CENTRE, kg_inbox) == [Received.APPLIED] * 3
    stored = kg.desk.get("KZ-CIS", ref)
    assert stored is not None
    assert (stored.state, stored.record.cmr) == ("cancelled", "CMR-2")
    payloads = [e.payload for e in kg.sent(TORUGART)]
    assert [type(p).__name__ for p in payloads] == [
        "ManifestMessage", "ManifestMessage", "ManifestWithdrawalMessage",
    ]  # fmt: skip
    assert isinstance(payloads[2], ManifestWithdrawalMessage)
    assert payloads[2].reason == "CANCELLED"


def test_a_record_from_a_node_that_is_no_partner_is_quarantined(
    kg: Centre, fleet: Fleet, tmp_path: Path
) -> None:
    box = Box(fleet, NURZHOLY, tmp_path / "box")
    incoming = box.send([ManifestMessage(record=parse_manifest(to_kg()))], KG_CENTRE)
    [result] = inbox_of(kg, {CENTRE: "cie"}).receive(incoming)
    assert result.outcome is Received.QUARANTINED
    assert "no partner centre" in (result.detail or "")
    assert kg.desk.get("KZ-CIS", to_kg()["ref"]) is None


def test_a_partner_cannot_withdraw_another_countrys_record(kz: Centre, kg: Centre) -> None:
    kg.desk.submit([parse_manifest(record(issuer="KG-CIS", office_border="KG417000"))], "api")
    kz.outbox.send(
        ManifestWithdrawalMessage(issuer="KG-CIS", ref=record()["ref"], version=1,
                                  reason="CANCELLED"),
        KG_CENTRE,
    )  # fmt: skip
    assert deliver(kz, KG_CENTRE, inbox_of(kg, {CENTRE: "cie"})) == [Received.QUARANTINED]
    stored = kg.desk.get("KG-CIS", record()["ref"])
    assert stored is not None
    assert stored.state == "active"
