"""The real mosquitto between border posts: who may connect, who may publish what, what a
restart or a crash keeps, and what a cut link does to a connected node.

Every broker here is a Debian mosquitto on a free loopback port with a generated config; every
node is a paho MQTT 5 client with its own certificate. Waits are on paho's callbacks, and
"nothing else arrived" is shown by a later message arriving first, never by sleeping.
"""

from __future__ import annotations

import json
import queue
import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from sync.broker_config import (
    BrokerConfig,
    PlainListener,
    TlsListener,
    TopicAccess,
)
from sync.broker_process import MOSQUITTO, BrokerError, MosquittoBroker
from sync.topics import node_prefix, subscribe_patterns
from tests.fixtures.pki import CertAuthority, IssuedCert, KeyType, issue, make_ca
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.skipif(not MOSQUITTO.exists(), reason="Debian mosquitto not installed")

EXIT_POST = "KZ-NURZHOLY-1"  # Kazakhstan's exit post
OTHER_KZ_POST = "KZ-NURZHOLY-2"
ENTRY_POST = "KG-TORUGART-1"  # the partner's entry post
NOT_AUTHORIZED = 0x87
NO_MATCHING_SUBSCRIBERS = 0x10  # a success: accepted, but nobody listens
WAIT = 60.0  # seconds: a bound on a wait that should take milliseconds


def to(sender: str, receiver: str, kind: str) -> str:
    return f"{node_prefix(sender)}/to/{receiver}/{kind}"


def addressed_to(node_id: str) -> str:
    (only,) = subscribe_patterns(node_id)
    return only


@dataclass(frozen=True)
class Pki:
    kz: CertAuthority
    kg: CertAuthority
    broker: IssuedCert
    nodes: dict[str, IssuedCert]
    # KZ-NURZHOLY-1's name on a certificate from a CA the broker does not trust.
    impostor: IssuedCert


def make_pki(directory: Path, key_type: KeyType = "ec-p256") -> Pki:
    kz = make_ca("KZ", directory / "kz", key_type)
    kg = make_ca("KG", directory / "kg", key_type)
    uz = make_ca("UZ", directory / "uz", key_type)
    nodes = {
        EXIT_POST: issue(kz, EXIT_POST, key_type=key_type),
        OTHER_KZ_POST: issue(kz, OTHER_KZ_POST, key_type=key_type),
        ENTRY_POST: issue(kg, ENTRY_POST, key_type=key_type),
    }
    broker = issue(kz, "broker", server_names=("localhost", "127.0.0.1"), key_type=key_type)
    return Pki(kz, kg, broker, nodes, issue(uz, EXIT_POST, key_type=key_type))


def broker_config(pki: Pki, **settings: Any) -> BrokerConfig:
    tls = TlsListener(
        port=0,
        cafiles=(pki.kz.cert, pki.kg.cert),
        certfile=pki.broker.cert,
        keyfile=pki.broker.key,
        tls_version=settings.pop("tls_version", "tlsv1.2"),
    )
    access = tuple(TopicAccess.for_node(node) for node in pki.nodes)
    return BrokerConfig(tls=tls, access=access, **settings)


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def broker(pki: Pki, tmp_path: Path) -> Iterator[MosquittoBroker]:
    with MosquittoBroker(broker_config(pki), tmp_path / "broker") as running:
        yield running


def tls_context(
    pki: Pki, cert: IssuedCert | None, tls_version: ssl.TLSVersion | None = None
) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.kz.cert))
    if cert is not None:
        context.load_cert_chain(cert.cert, cert.key)
    if tls_version is not None:
        context.minimum_version = context.maximum_version = tls_version
    return context


class Node:
    """A post's MQTT 5 client: paho, QoS 1, every callback on a queue or a table to await."""

    def __init__(
        self, client_id: str, context: ssl.SSLContext, persistent: bool = False, keepalive: int = 60
    ) -> None:
        self.client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id, protocol=mqtt.MQTTv5)
        self.client.tls_set_context(context)
        self.client.reconnect_delay_set(min_delay=1, max_delay=1)
        self.persistent = persistent
        self.keepalive = keepalive
        self.connects: queue.Queue[tuple[ReasonCode, bool]] = queue.Queue()
        self.disconnects: queue.Queue[ReasonCode] = queue.Queue()
        self.messages: queue.Queue[mqtt.MQTTMessage] = queue.Queue()
        self.acks: dict[int, ReasonCode] = {}
        self.subacks: dict[int, list[ReasonCode]] = {}
        self.changed = threading.Condition()
        self.client.on_connect = self._on_connect
        self.client.on_disconnect = self._on_disconnect
        self.client.on_message = self._on_message
        self.client.on_publish = self._on_publish
        self.client.on_subscribe = self._on_subscribe

    def _on_connect(self, _c: Any, _u: Any, flags: Any, reason: ReasonCode, _p: Any) -> None:
        self.connects.put((reason, bool(flags.session_present)))

    def _on_disconnect(self, _c: Any, _u: Any, _f: Any, reason: ReasonCode, _p: Any) -> None:
        self.disconnects.put(reason)

    def _on_message(self, _c: Any, _u: Any, message: mqtt.MQTTMessage) -> None:
        self.messages.put(message)

    def _on_publish(self, _c: Any, _u: Any, mid: int, reason: ReasonCode, _p: Any) -> None:
        with self.changed:
            self.acks[mid] = reason
            self.changed.notify_all()

    def _on_subscribe(self, _c: Any, _u: Any, mid: int, reasons: list[ReasonCode], _p: Any) -> None:
        with self.changed:
            self.subacks[mid] = reasons
            self.changed.notify_all()

    def connect(self, port: int) -> Node:
        """Connect and start paho's loop (which reconnects by itself), without waiting."""
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = 86400 if self.persistent else 0
        self.client.connect(
            "127.0.0.1",
            port,
            keepalive=self.keepalive,
            clean_start=not self.persistent,
            properties=properties,
        )
        self.client.loop_start()
        return self

    def connected(self) -> bool:
        """Wait for the CONNACK; return whether the session was still on the broker."""
        reason, session_present = self.connects.get(timeout=WAIT)
        assert not reason.is_failure, f"connection refused: {reason}"
        return session_present

    def subscribe(self, topic_filter: str) -> None:
        _, mid = self.client.subscribe(topic_filter, qos=1)
        assert mid is not None, "not connected"
        with self.changed:
            assert self.changed.wait_for(lambda: mid in self.subacks, WAIT), "no SUBACK"
            assert not self.subacks[mid][0].is_failure, self.subacks[mid]

    def publish(self, topic: str, payload: bytes) -> int:
        """Publish at QoS 1 and return the PUBACK's reason code."""
        mid = self.client.publish(topic, payload, qos=1).mid
        with self.changed:
            assert self.changed.wait_for(lambda: mid in self.acks, WAIT), f"no PUBACK for {topic}"
            return self.acks[mid].value

    def receive(self) -> tuple[str, bytes]:
        message = self.messages.get(timeout=WAIT)
        return message.topic, bytes(message.payload)

    def receive_until(self, last: bytes) -> list[bytes]:
        """Every payload up to and including `last`."""
        payloads: list[bytes] = []
        while not payloads or payloads[-1] != last:
            payloads.append(self.receive()[1])
        return payloads

    def close(self) -> None:
        self.client.disconnect()
        self.client.loop_stop()


@pytest.fixture
def nodes(pki: Pki) -> Iterator[dict[str, Node]]:
    made = {
        name: Node(name, tls_context(pki, cert), persistent=True)
        for name, cert in pki.nodes.items()
    }
    yield made
    for node in made.values():
        node.close()


def refused_at_tls(broker: MosquittoBroker, context: ssl.SSLContext, why: str) -> None:
    """Try to connect; fail if the broker lets us in, or does not log `why` it refused."""
    node = Node("stranger", context)
    reason: object
    try:
        node.connect(broker.port)
        reason = node.disconnects.get(timeout=WAIT)
    except ssl.SSLError as error:
        reason = error  # refused during a handshake that paho ran in connect()
    finally:
        node.client.loop_stop()
    assert node.connects.empty(), f"the broker accepted the connection (then {reason})"
    broker.wait_for_log(why)


# --- who may connect -------------------------------------------------------------------------


def test_post_connects_with_its_certificate_and_its_cn_is_its_username(
    broker: MosquittoBroker, nodes: dict[str, Node]
) -> None:
    nodes[EXIT_POST].connect(broker.port).connected()
    assert f"u'{EXIT_POST}'" in broker.log_text()


def test_client_without_a_certificate_is_refused_at_tls(broker: MosquittoBroker, pki: Pki) -> None:
    refused_at_tls(broker, tls_context(pki, None), "peer did not return a certificate")


def test_certificate_from_an_untrusted_ca_is_refused_even_with_a_known_name(
    broker: MosquittoBroker, pki: Pki
) -> None:
    refused_at_tls(broker, tls_context(pki, pki.impostor), "certificate verify failed")


def test_plain_listener_asked_for_a_baseline_benchmark_takes_anonymous_clients(
    pki: Pki, tmp_path: Path
) -> None:
    config = broker_config(pki, plain=PlainListener(port=0))
    with MosquittoBroker(config, tmp_path / "broker") as broker:
        assert broker.plain_port not in (None, broker.port)
        client = mqtt.Client(CallbackAPIVersion.VERSION2, "bench", protocol=mqtt.MQTTv5)
        try:
            assert client.connect("127.0.0.1", broker.plain_port or 0) == mqtt.MQTT_ERR_SUCCESS
            info = client.publish("bench/raw", b"x", qos=1)
            client.loop_start()
            info.wait_for_publish(timeout=WAIT)
            assert info.is_published()
        finally:
            client.disconnect()
            client.loop_stop()


def test_broker_that_cannot_start_says_why(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "missing.key"
    config = broker_config(pki).model_copy(
        update={"tls": broker_config(pki).tls.model_copy(update={"keyfile": missing})}
    )
    broker = MosquittoBroker(config, tmp_path / "broker")
    with pytest.raises(BrokerError, match="exited") as error:
        broker.start()
    assert "missing.key" in str(error.value)
    assert not broker.running


# --- who may publish and read what -----------------------------------------------------------


def test_exit_confirmation_reaches_the_partner_entry_post(
    broker: MosquittoBroker, nodes: dict[str, Node]
) -> None:
    entry, exit_ = nodes[ENTRY_POST], nodes[EXIT_POST]
    entry.connect(broker.port).connected()
    entry.subscribe(addressed_to(ENTRY_POST))
    exit_.connect(broker.port).connected()

    topic = to(EXIT_POST, ENTRY_POST, "exit_confirmation")
    assert exit_.publish(topic, b"truck 777ABC02 left") == 0

    assert entry.receive() == (topic, b"truck 777ABC02 left")


@pytest.mark.parametrize(
    "forged_topic",
    [
        to(OTHER_KZ_POST, ENTRY_POST, "decision"),  # another post of its own country
        to(ENTRY_POST, ENTRY_POST, "decision"),  # the receiver itself
        f"carec/v1/KG/{EXIT_POST}/to/{ENTRY_POST}/decision",  # its own id under another country
        "carec/v1/KZ",
        "other/topic",
    ],
)
def test_post_publishing_as_another_is_refused_by_the_broker(
    broker: MosquittoBroker, nodes: dict[str, Node], forged_topic: str
) -> None:
    entry, exit_ = nodes[ENTRY_POST], nodes[EXIT_POST]
    entry.connect(broker.port).connected()
    entry.subscribe("carec/v1/#")
    entry.subscribe("other/#")
    exit_.connect(broker.port).connected()

    assert exit_.publish(forged_topic, b"forged") == NOT_AUTHORIZED
    assert exit_.publish(to(EXIT_POST, ENTRY_POST, "decision"), b"genuine") == 0

    # The broker keeps one publisher's messages in order, so the genuine one arriving first
    # shows the forged one was not delivered.
    assert entry.receive_until(b"genuine") == [b"genuine"]


def test_post_does_not_receive_what_is_addressed_to_another_post(
    broker: MosquittoBroker, nodes: dict[str, Node]
) -> None:
    nosy, exit_ = nodes[OTHER_KZ_POST], nodes[EXIT_POST]
    nosy.connect(broker.port).connected()
    nosy.subscribe("carec/v1/#")  # mosquitto grants any filter; the ACL filters delivery
    exit_.connect(broker.port).connected()

    assert exit_.publish(to(EXIT_POST, ENTRY_POST, "decision"), b"not yours") == 0
    assert exit_.publish(to(EXIT_POST, OTHER_KZ_POST, "decision"), b"yours") == 0

    assert nosy.receive_until(b"yours") == [b"yours"]


# --- Ed25519 certificates ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "tls_version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2], ids=["tls1.3", "tls1.2"]
)
def test_ed25519_certificates_work_for_mutual_tls(
    tmp_path: Path, tls_version: ssl.TLSVersion
) -> None:
    pki = make_pki(tmp_path / "pki", key_type="ed25519")
    with MosquittoBroker(broker_config(pki), tmp_path / "broker") as broker:
        node = Node(EXIT_POST, tls_context(pki, pki.nodes[EXIT_POST], tls_version))
        try:
            node.connect(broker.port).connected()
            sock = node.client.socket()
            assert isinstance(sock, ssl.SSLSocket)
            assert sock.version() == tls_version.name.replace("v1_", "v1.")
            assert (
                node.publish(to(EXIT_POST, ENTRY_POST, "decision"), b"signed")
                == NO_MATCHING_SUBSCRIBERS
            )
        finally:
            node.close()


# --- what a restart or a crash keeps -----------------------------------------------------------


def queue_for_offline_entry_post(
    broker: MosquittoBroker, nodes: dict[str, Node], count: int
) -> None:
    """The entry post subscribes with a persistent session and goes offline; the exit post
    sends `count` decisions (one at a time, each PUBACKed) that queue for it on the broker."""
    entry, exit_ = nodes[ENTRY_POST], nodes[EXIT_POST]
    entry.connect(broker.port).connected()
    entry.subscribe(addressed_to(ENTRY_POST))
    entry.close()
    exit_.connect(broker.port).connected()
    for n in range(count):
        assert exit_.publish(to(EXIT_POST, ENTRY_POST, "decision"), b"%d" % n) == 0
    exit_.close()


def delivered_after_restart(
    broker: MosquittoBroker, nodes: dict[str, Node], pki: Pki
) -> list[bytes]:
    """What the entry post receives when it comes back, up to a marker sent after the restart."""
    entry = Node(ENTRY_POST, tls_context(pki, pki.nodes[ENTRY_POST]), persistent=True)
    exit_ = Node(EXIT_POST, tls_context(pki, pki.nodes[EXIT_POST]))
    try:
        assert entry.connect(broker.port).connected(), "the session was lost"
        exit_.connect(broker.port).connected()
        assert exit_.publish(to(EXIT_POST, ENTRY_POST, "decision"), b"marker") == 0
        return entry.receive_until(b"marker")[:-1]
    finally:
        entry.close()
        exit_.close()


def test_queued_messages_survive_a_clean_broker_restart(
    broker: MosquittoBroker, nodes: dict[str, Node], pki: Pki
) -> None:
    queue_for_offline_entry_post(broker, nodes, 50)

    broker.restart()  # SIGTERM: mosquitto saves everything as it stops

    assert delivered_after_restart(broker, nodes, pki) == [b"%d" % n for n in range(50)]


def test_kill_9_of_the_broker_loses_acknowledged_messages_past_the_last_autosave(
    broker: MosquittoBroker, nodes: dict[str, Node], pki: Pki
) -> None:
    """Mosquitto PUBACKs a message before it is on disk: with `autosave_on_changes`, a crash
    loses up to `autosave_interval` queued messages that their sender saw acknowledged.
    The sender's outbox must not treat a PUBACK as delivery."""
    sent, interval = 150, broker.config.autosave_interval
    assert broker.config.autosave_on_changes
    queue_for_offline_entry_post(broker, nodes, sent)

    broker.kill()
    broker.start()

    delivered = delivered_after_restart(broker, nodes, pki)
    lost = sent - len(delivered)
    print(
        json.dumps({"sent": sent, "delivered": len(delivered), "lost": lost, "interval": interval})
    )
    assert delivered == [b"%d" % n for n in range(len(delivered))], "not a prefix, in order"
    assert 0 < lost <= interval + 2


# --- the link cut and healed ---------------------------------------------------------------


def test_post_behind_a_cut_link_reconnects_and_resumes_its_session(
    broker: MosquittoBroker, nodes: dict[str, Node]
) -> None:
    entry, exit_ = nodes[ENTRY_POST], nodes[EXIT_POST]
    with TcpProxy(broker.port) as link:
        entry.connect(link.port).connected()
        entry.subscribe(addressed_to(ENTRY_POST))
        exit_.connect(broker.port).connected()
        topic = to(EXIT_POST, ENTRY_POST, "decision")
        assert exit_.publish(topic, b"before") == 0
        assert entry.receive()[1] == b"before"

        link.cut()
        entry.disconnects.get(timeout=WAIT)
        assert exit_.publish(topic, b"during 1") == 0
        assert exit_.publish(topic, b"during 2") == 0
        link.heal()

        assert entry.connected(), "the session did not survive the cut"
        after: list[mqtt.MQTTMessage] = []
        while not after or after[-1].payload != b"during 2":
            after.append(entry.messages.get(timeout=WAIT))
        assert [m.payload for m in after if not m.dup] == [b"during 1", b"during 2"]
        # The cut may have eaten the PUBACK of "before": QoS 1 then delivers it again, flagged.
        assert [m.payload for m in after if m.dup] in ([], [b"before"])
        stats = link.stats()
        assert stats.dropped == 1
        assert stats.accepted >= 2


def test_post_behind_a_stalled_link_notices_by_keepalive_and_comes_back(
    broker: MosquittoBroker, pki: Pki
) -> None:
    entry = Node(ENTRY_POST, tls_context(pki, pki.nodes[ENTRY_POST]), persistent=True, keepalive=1)
    try:
        with TcpProxy(broker.port) as link:
            entry.connect(link.port).connected()
            link.stall()
            entry.disconnects.get(timeout=WAIT)  # no PINGRESP within the keepalive
            link.heal()
            assert entry.connected()
    finally:
        entry.close()
