"""Two posts exchanging signed messages through a real mosquitto, with mutual TLS and the ACL."""

from __future__ import annotations

import ssl
from pathlib import Path

import paho.mqtt.client as mqtt
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from edge.manifest import parse_manifest
from edge.store.schema import quarantine
from sync.envelope import Envelope, seal
from sync.messages import ExitConfirmationMessage, ManifestMessage
from sync.outbox import Signer
from sync.topics import topic_of
from tests.fixtures.records import record
from tests.sync.crossing import ENTRY, EXIT, make_fleet, make_post, start_broker, wait_until


def exit_confirmation(ref: str, plate: str = "777 ABC 02") -> ExitConfirmationMessage:
    return ExitConfirmationMessage.model_validate({
        "record": record(ref=ref, transport={"plate": plate, "nationality": "KZ"}),
        "exited_at": "2026-11-28T08:35:00Z", "exit_node": EXIT,
    })  # fmt: skip


def test_an_exit_confirmation_becomes_pre_arrival_information_at_the_partner(
    tmp_path: Path,
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker:
        exit_post = make_post(fleet, EXIT, tmp_path / "exit", broker.port).start()
        entry_post = make_post(fleet, ENTRY, tmp_path / "entry", broker.port).start()
        try:
            sent = exit_post.outbox.send_many(
                [(exit_confirmation(f"X{i}"), ENTRY, None) for i in range(20)]
            )
            wait_until(lambda: entry_post.applied() == 20, what="20 applied at the entry post")
            wait_until(
                lambda: exit_post.states() == {"delivered": 20}, what="the entry post's acks"
            )
        finally:
            exit_post.stop()
            entry_post.stop()
    assert entry_post.cache.count() == 20
    assert len(set(sent)) == 20
    assert set(entry_post.states()) == {"delivered"}  # its acks, which need only the broker's


def test_a_forged_envelope_that_gets_past_the_broker_is_refused_by_the_inbox(
    tmp_path: Path,
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker:
        entry_post = make_post(fleet, ENTRY, tmp_path / "entry", broker.port).start()
        try:
            # The exit post's own certificate, so the broker lets it publish on its own topic;
            # a genuine envelope whose content was swapped after signing.
            identity = fleet.nodes[EXIT]
            signer = Signer.load(identity, EXIT)
            genuine = Envelope.new(
                ManifestMessage(record=parse_manifest(record(ref="GENUINE"))),
                origin=EXIT,
                destination=ENTRY,
                seq=1,
            )
            other = Envelope.new(
                ManifestMessage(record=parse_manifest(record(ref="FORGED"))),
                origin=EXIT,
                destination=ENTRY,
                seq=1,
            )
            header, _, signature = seal(
                genuine, signer.private_key, EXIT, signer.certificate_pem
            ).split(b".")
            swapped = seal(other, Ed25519PrivateKey.generate(), EXIT).split(b".")[1]
            forged = b".".join((header, swapped, signature))
            envelope = other
            client = mqtt.Client(
                callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5
            )
            client.tls_set(
                ca_certs=str(fleet.ca_bundle),
                certfile=str(identity / "node.crt"),
                keyfile=str(identity / "node.key"),
                cert_reqs=ssl.CERT_REQUIRED,
            )
            client.connect("127.0.0.1", broker.port)
            client.loop_start()
            client.publish(topic_of(envelope), forged, qos=1).wait_for_publish(10)
            client.loop_stop()
            client.disconnect()

            def quarantined() -> list[str]:
                with entry_post.engine.connect() as conn:
                    return list(conn.execute(select(quarantine.c.reason)).scalars())

            wait_until(
                lambda: quarantined() == ["bad_signature"], what="the forged envelope quarantined"
            )
        finally:
            entry_post.stop()
    assert entry_post.cache.count() == 0
    assert entry_post.applied() == 0


def test_messages_wait_for_a_link_and_flow_when_it_comes(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker:
        entry_post = make_post(fleet, ENTRY, tmp_path / "entry", broker.port).start()
        entry_post.stop()  # its session now exists on the broker, which queues for it
        exit_post = make_post(fleet, EXIT, tmp_path / "exit", broker.port)
        exit_post.outbox.send_many([(exit_confirmation(f"Q{i}"), ENTRY, None) for i in range(10)])
        assert exit_post.states() == {"pending": 10}  # no link yet: kept, durably
        exit_post.start()
        wait_until(
            lambda: (
                exit_post.states().get("acked", 0) + exit_post.states().get("delivered", 0) == 10
            ),
            what="the broker took them",
        )
        entry_post = make_post(fleet, ENTRY, tmp_path / "entry", broker.port).start()
        try:
            wait_until(
                lambda: entry_post.applied() == 10, what="delivered after the entry post came back"
            )
            wait_until(lambda: exit_post.states() == {"delivered": 10}, what="acknowledged")
        finally:
            exit_post.stop()
            entry_post.stop()
    assert entry_post.cache.count() == 10
