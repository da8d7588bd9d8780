"""The real mosquitto refuses a revoked box: the broker's listener reads the CRL the centre writes
when it revokes (`crlfile`). mosquitto reads it at start and again on SIGHUP (what `systemctl
reload mosquitto` sends), not by itself: until then the revoked box still connects. With
`[fleet.enrolment] reload_broker` the centre sends it that signal itself after each CRL."""

from __future__ import annotations

import os
import signal
import socket
import ssl
from dataclasses import replace
from pathlib import Path

import pytest

from centre.fleet.enrolment import Enrolments
from centre.fleet.revocation import refresh_crl
from provisioning.identity.csr import NODE_CERT, NODE_KEY, init_node
from provisioning.identity.fleet import Fleet
from provisioning.identity.node_id import NodeId
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MOSQUITTO, MosquittoBroker
from tests.centre.conftest import make_centre
from tests.centre.fleet.test_enrolment import ALTYNKOL, DOSTYK, settings_for

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="Debian mosquitto not installed")

CONNACK_ACCEPTED = b"\x20\x02\x00\x00"


def connect(broker: MosquittoBroker, ca_file: Path, identity: Path, node: str) -> bytes | str:
    """An MQTT 3.1.1 CONNECT over mutual TLS with the box's certificate: the broker's CONNACK,
    or the TLS alert that ended the handshake."""
    context = ssl.create_default_context(cafile=str(ca_file))  # the broker's CA
    # TLS 1.2: the broker judges the client's certificate inside the handshake, so a refusal is
    # its alert, always (in 1.3 it comes after, racing the client's first write).
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    context.load_cert_chain(identity / NODE_CERT, identity / NODE_KEY)
    with socket.create_connection((broker.host, broker.port), timeout=30) as raw:
        try:
            with context.wrap_socket(raw, server_hostname="localhost") as tls:
                client_id = node.encode()
                body = (
                    b"\x00\x04MQTT\x04\x02\x00\x3c" + len(client_id).to_bytes(2, "big") + client_id
                )
                tls.sendall(bytes([0x10, len(body)]) + body)
                return tls.recv(4)
        except (ssl.SSLError, ConnectionResetError) as error:
            return str(error)


def test_the_broker_refuses_a_revoked_box_once_it_rereads_the_crl(
    fleet: Fleet, tmp_path: Path
) -> None:
    centre = make_centre(f"sqlite:///{tmp_path / 'centre.sqlite3'}", fleet)
    enrolments = Enrolments(centre.engine, centre.outbox, settings_for(fleet, tmp_path))
    identities = {}
    for node in (ALTYNKOL, DOSTYK):
        identities[node] = tmp_path / node
        files = init_node(NodeId.parse(node), identities[node])
        enrolments.register(node, f"SN-{node}", operator="olga")
        answer = enrolments.request(f"SN-{node}", files.csr.read_bytes())
        assert answer.certificate is not None
        (identities[node] / NODE_CERT).write_text(answer.certificate)
    crl = enrolments.settings.crl_file
    enrolments.revoke(DOSTYK, operator="olga", reason="a first one: the CRL exists")
    ca_file = fleet.ca_bundle
    config = BrokerConfig(
        tls=TlsListener(port=0, cafiles=(fleet.root / "ca-KZ" / "ca.crt",), certfile=fleet.broker_cert,
                        keyfile=fleet.broker_key, crlfile=crl),
        access=(TopicAccess.for_node(ALTYNKOL),),
    )  # fmt: skip
    with MosquittoBroker(config, tmp_path / "broker") as broker:
        assert connect(broker, ca_file, identities[ALTYNKOL], ALTYNKOL) == CONNACK_ACCEPTED
        assert "revoked" in str(connect(broker, ca_file, identities[DOSTYK], DOSTYK))

        enrolments.revoke(ALTYNKOL, operator="olga", reason="stolen from the post")
        # Written, but not read yet: the broker still lets it in.
        assert connect(broker, ca_file, identities[ALTYNKOL], ALTYNKOL) == CONNACK_ACCEPTED
        assert broker.pid is not None
        os.kill(broker.pid, signal.SIGHUP)
        broker.wait_for_log("Reloading config")
        refused = connect(broker, ca_file, identities[ALTYNKOL], ALTYNKOL)
        assert "CERTIFICATE_REVOKED" in str(refused)


def test_with_reload_broker_set_a_revoked_box_is_refused_with_no_one_at_the_broker(
    fleet: Fleet, tmp_path: Path
) -> None:
    centre = make_centre(f"sqlite:///{tmp_path / 'centre.sqlite3'}", fleet)
    enrolments = Enrolments(centre.engine, centre.outbox, settings_for(fleet, tmp_path))
    identity = tmp_path / ALTYNKOL
    files = init_node(NodeId.parse(ALTYNKOL), identity)
    enrolments.register(ALTYNKOL, f"SN-{ALTYNKOL}", operator="olga")
    answer = enrolments.request(f"SN-{ALTYNKOL}", files.csr.read_bytes())
    assert answer.certificate is not None
    (identity / NODE_CERT).write_text(answer.certificate)
    crl = refresh_crl(centre.engine, enrolments.ca, enrolments.settings.crl_file, days=30)
    config = BrokerConfig(
        tls=TlsListener(port=0, cafiles=(fleet.root / "ca-KZ" / "ca.crt",), certfile=fleet.broker_cert,
                        keyfile=fleet.broker_key, crlfile=crl),
        access=(TopicAccess.for_node(ALTYNKOL),),
    )  # fmt: skip
    with MosquittoBroker(config, tmp_path / "broker") as broker:
        assert connect(broker, fleet.ca_bundle, identity, ALTYNKOL) == CONNACK_ACCEPTED
        # What `systemctl reload mosquitto` does, as [fleet.enrolment] reload_broker.
        command = ("kill", "-HUP", str(broker.pid))
        enrolments.settings = replace(enrolments.settings, reload_broker=command)

        enrolments.revoke(ALTYNKOL, operator="olga", reason="stolen from the post")

        broker.wait_for_log("Reloading config")
        assert "CERTIFICATE_REVOKED" in str(connect(broker, fleet.ca_bundle, identity, ALTYNKOL))
