"""An exit confirmation from a KZ exit post to the KG entry post, through both centres: the KZ
centre takes custody off its national broker (acknowledging the post), relays it to the KG
centre, which relays it to its entry post, where it is pre-arrival information, still under
the exit post's own signature. The broker hops are played by handing each outbox's envelopes
to the next inbox, as the broker would deliver them."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.partner_inbox import Relaying, partner_appliers
from centre.relay_tap import RelayTap
from centre.routing import Routing
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.store.schema import outbox
from provisioning.identity.fleet import Fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.inbox import Inbox, Incoming
from sync.inbox import Outcome as Received
from sync.messages import ExitConfirmationMessage, RelayMessage
from sync.relay import relay_effects
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


class EntryPost(Box):
    """The KG entry post: its store, cache and inbox as `sync.setup.build_sync` makes them."""

    def __init__(self, fleet: Fleet, data_dir: Path) -> None:
        super().__init__(fleet, TORUGART, data_dir)
        self.cache = ManifestCache(self.engine)
        key_for = key_lookup(TrustStore.load(fleet.trust_store))
        applying = appliers(self.cache, self.outbox)
        applying["relay"] = relay_effects(key_for, TORUGART, applying)
        self.inbox = Inbox(self.engine, TORUGART, key_for, applying,
                           acknowledge=acknowledger(self.outbox))  # fmt: skip


def handed(sender: Centre, to: str) -> list[Incoming]:
    return [Incoming("broker", topic_of(e), data) for e, data in sender.sent_raw(to)]


@pytest.fixture
def kz(database_url: str, fleet: Fleet) -> Centre:
    return make_centre(database_url, fleet, CENTRE, Routing(ROUTING, {"KG": KG_CENTRE}))


@pytest.fixture
def kg(tmp_path: Path, fleet: Fleet) -> Centre:
    url = f"sqlite:///{tmp_path / 'kg.sqlite3'}"
    return make_centre(url, fleet, KG_CENTRE, Routing({"KG417000": [TORUGART]}, {"KZ": CENTRE}))


def centre_inbox(centre: Centre, partners: dict[str, str], own: set[str]) -> Inbox:
    key_for = key_lookup(TrustStore.load(centre.fleet.trust_store))
    relaying = Relaying(key_for, frozenset(own))
    applying = centre_appliers(
        centre.outbox, partner_appliers(centre.desk, partners, None, relaying)
    )
    return Inbox(centre.engine, centre.outbox.signer.node_id, key_for, applying,
                 acknowledge=centre_acknowledger(centre.outbox))  # fmt: skip


def exit_confirmation() -> ExitConfirmationMessage:
    manifest = parse_manifest(record(office_destination="KG417000"))
    return ExitConfirmationMessage(
        record=manifest, exited_at=dt.datetime.now(dt.UTC), seals=manifest.seals,
        exit_node=NURZHOLY,
    )  # fmt: skip


def test_an_exit_confirmation_reaches_the_partners_entry_post_through_both_centres(
    kz: Centre, kg: Centre, fleet: Fleet, tmp_path: Path
) -> None:
    exit_post = Box(fleet, NURZHOLY, tmp_path / "exit")
    entry_post = EntryPost(fleet, tmp_path / "entry")
    key_for = key_lookup(TrustStore.load(fleet.trust_store))
    tap = RelayTap(kz.engine, kz.outbox, key_for, {"KG": KG_CENTRE},
                   centre_inbox(kz, {KG_CENTRE: "cie"}, set()))  # fmt: skip

    sent = exit_post.send([exit_confirmation()], TORUGART)  # off the KZ national broker
    assert [r.outcome for r in tap.receive(sent)] == [Received.APPLIED]
    assert [r.outcome for r in tap.receive(sent)] == [Received.DUPLICATE]  # redelivered: once
    [relay] = kz.sent(KG_CENTRE)
    assert isinstance(relay.payload, RelayMessage)
    assert relay.payload.via == (CENTRE,)

    kg_inbox = centre_inbox(kg, {CENTRE: "cie"}, {TORUGART})
    assert [r.outcome for r in kg_inbox.receive(handed(kz, KG_CENTRE))] == [Received.APPLIED]
    [onward] = kg.sent(TORUGART)
    assert isinstance(onward.payload, RelayMessage)
    assert onward.payload.via == (CENTRE, KG_CENTRE)

    results = entry_post.inbox.receive(handed(kg, TORUGART))
    assert [r.outcome for r in results] == [Received.APPLIED]
    assert entry_post.cache.ids_by_ref(record()["ref"])  # pre-arrival information at entry

    # Custody: the KZ centre acknowledged the exit post's message, whose outbox settles.
    exit_inbox = Inbox(exit_post.engine, NURZHOLY, key_for,
                       appliers(ManifestCache(exit_post.engine), exit_post.outbox))  # fmt: skip
    exit_inbox.receive(handed(kz, NURZHOLY))
    with exit_post.engine.connect() as conn:
        assert list(conn.execute(select(outbox.c.state)).scalars()) == ["delivered"]
    # Both CIS see the exit confirmation once in their feed.
    for centre in (kz, kg):
        with centre.engine.connect() as conn:
            kinds = conn.exec_driver_sql("SELECT type, origin FROM cis_events").all()
        assert [tuple(k) for k in kinds] == [("exit_confirmation", NURZHOLY)]


def test_a_relay_whose_inner_envelope_was_altered_is_quarantined_at_the_partner(
    kz: Centre, kg: Centre, fleet: Fleet, tmp_path: Path
) -> None:
    exit_post = Box(fleet, NURZHOLY, tmp_path / "exit")
    [item] = exit_post.send([exit_confirmation()], TORUGART)
    header, payload, signature = item.data.split(b".")
    forged = b".".join((header, payload[:-4] + b"AAAA", signature)).decode("ascii")
    kz.outbox.send(RelayMessage(envelope=forged, via=(CENTRE,)), KG_CENTRE)
    kg_inbox = centre_inbox(kg, {CENTRE: "cie"}, {TORUGART})
    [result] = kg_inbox.receive(handed(kz, KG_CENTRE))
    assert result.outcome is Received.QUARANTINED
    assert "inner envelope" in (result.detail or "")
    assert kg.sent(TORUGART) == []


def test_a_relay_to_a_post_of_another_country_is_refused(
    kz: Centre, kg: Centre, fleet: Fleet, tmp_path: Path
) -> None:
    exit_post = Box(fleet, NURZHOLY, tmp_path / "exit")
    [item] = exit_post.send([exit_confirmation()], "KZ-KORGAS-1")
    kz.outbox.send(RelayMessage(envelope=item.data.decode("ascii"), via=(CENTRE,)), KG_CENTRE)
    [result] = centre_inbox(kg, {CENTRE: "cie"}, {TORUGART}).receive(handed(kz, KG_CENTRE))
    assert result.outcome is Received.QUARANTINED
    assert "for KZ-KORGAS-1, not taken here" in (result.detail or "")
