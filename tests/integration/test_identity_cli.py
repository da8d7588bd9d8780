"""`carec-edge identity` and `carec-edge ca` as an operator runs them, and proof that what they
issue works for mutual TLS: in Python's ssl, and with a real Debian mosquitto broker."""

from __future__ import annotations

import getpass
import os
import queue
import shutil
import socket
import ssl
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.reasoncodes import ReasonCode

from provisioning.identity.errors import Reason, UntrustedError
from provisioning.identity.keys import fingerprint
from provisioning.identity.node_id import NodeId
from provisioning.identity.trust import TrustStore

TIMEOUT = 20.0


def carec_edge(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *map(str, args)],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def ok(*args: str | Path) -> str:
    result = carec_edge(*args)
    assert result.returncode == 0, result.stderr
    return result.stdout


def refused(*args: str | Path) -> str:
    result = carec_edge(*args)
    assert result.returncode == 1, result.stdout + result.stderr
    assert result.stderr.count("\n") == 1, "one line naming the problem"
    return result.stderr


@dataclass(frozen=True)
class Fleet:
    root: Path
    ca: Path
    node: Path
    broker: Path
    stranger: Path  # a KZ node whose certificate comes from a CA nobody trusts

    def trust_store(self) -> TrustStore:
        (self.root / "trust.toml").write_text(
            f'[[authority]]\ncertificate = "{self.ca / "ca.crt"}"\ncountries = ["KZ"]\n'
        )
        return TrustStore.load(self.root / "trust.toml")


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    root = tmp_path_factory.mktemp("fleet")
    fleet = Fleet(root, root / "ca", root / "node", root / "broker", root / "stranger")
    ok("ca", "init", "--country", "KZ", "--dir", fleet.ca, "--days", "30")
    ok("ca", "init", "--country", "KZ", "--dir", root / "rogue-ca")
    for node_id, directory in [
        ("KZ-NURZHOLY-1", fleet.node),
        ("KZ-BROKER", fleet.broker),
        ("KZ-NURZHOLY-2", fleet.stranger),
    ]:
        ok("identity", "init", "--node", node_id, "--dir", directory)
    ok("ca", "issue", fleet.node / "node.csr", "--dir", fleet.ca, "--days", "7")
    ok("ca", "issue", fleet.broker / "node.csr", "--dir", fleet.ca, "--days", "7",
       "--server", "localhost", "--server", "127.0.0.1")  # fmt: skip
    ok("ca", "issue", fleet.stranger / "node.csr", "--dir", root / "rogue-ca")
    return fleet


def test_ca_init_identity_init_and_ca_issue_give_a_certificate_the_trust_store_verifies(
    tmp_path: Path,
) -> None:
    ca_out = ok("ca", "init", "--country", "KZ", "--dir", tmp_path / "ca")
    assert ca_out.startswith(f"carec-edge fleet CA KZ: {tmp_path / 'ca' / 'ca.crt'}, valid until ")
    node_out = ok("identity", "init", "--node", "KZ-NURZHOLY-1", "--dir", tmp_path / "node")
    assert node_out.startswith(f"KZ-NURZHOLY-1: key {tmp_path / 'node' / 'node.key'}, fingerprint ")
    assert f"CSR {tmp_path / 'node' / 'node.csr'}\n" in node_out
    issue_out = ok("ca", "issue", tmp_path / "node" / "node.csr", "--dir", tmp_path / "ca")
    assert issue_out.startswith(f"KZ-NURZHOLY-1: {tmp_path / 'node' / 'node.crt'}\nserial ")
    for key in (tmp_path / "ca" / "ca.key", tmp_path / "node" / "node.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600

    (tmp_path / "trust.toml").write_text(
        '[[authority]]\ncertificate = "ca/ca.crt"\ncountries = ["KZ"]\n'
    )
    store = TrustStore.load(tmp_path / "trust.toml")
    identity = store.verify_certificate((tmp_path / "node" / "node.crt").read_bytes())
    assert identity.node_id == NodeId.parse("KZ-NURZHOLY-1")
    fingerprint_line = node_out.splitlines()[0]
    assert fingerprint_line.endswith(fingerprint(identity.public_key).short)


def test_identity_init_keeps_the_key_unless_forced(tmp_path: Path) -> None:
    ok("identity", "init", "--node", "KZ-NURZHOLY-1", "--dir", tmp_path)
    key = (tmp_path / "node.key").read_bytes()
    error = refused("identity", "init", "--node", "KZ-NURZHOLY-1", "--dir", tmp_path)
    assert (
        error
        == f"carec-edge: {tmp_path / 'node.key'} exists; use --force to replace the identity\n"
    )
    assert (tmp_path / "node.key").read_bytes() == key
    ok("identity", "init", "--node", "KZ-NURZHOLY-1", "--dir", tmp_path, "--force")
    assert (tmp_path / "node.key").read_bytes() != key
    assert stat.S_IMODE((tmp_path / "node.key").stat().st_mode) == 0o600


def test_a_kz_ca_refuses_a_kg_node(tmp_path: Path, fleet: Fleet) -> None:
    ok("identity", "init", "--node", "KG-DOSTUK-1", "--dir", tmp_path)
    error = refused("ca", "issue", tmp_path / "node.csr", "--dir", fleet.ca)
    assert "KG-DOSTUK-1, a node of KG; this CA issues for KZ only" in error
    assert not (tmp_path / "node.crt").exists()


@pytest.mark.parametrize(
    ("args", "complaint"),
    [
        (("identity", "init", "--node", "kz-nurzholy-1"), "write it in capitals"),
        (("ca", "init", "--country", "XX"), "'XX' is not an ISO 3166-1 alpha-2 country"),
        (("ca", "issue", "missing.csr"), "missing.csr: cannot read the CSR"),
        (("ca", "issue", "node.csr", "--server", "bad_name"), "'bad_name' is neither a host name"),
        (("ca", "issue", "node.csr", "--days", "0"), "validity of 0 days"),
    ],
)
def test_bad_input_is_one_line_naming_the_problem(
    tmp_path: Path, fleet: Fleet, args: tuple[str, ...], complaint: str
) -> None:
    shutil.copy(fleet.node / "node.csr", tmp_path / "node.csr")
    directory = fleet.ca if args[:2] == ("ca", "issue") else tmp_path / "out"
    paths = [str(tmp_path / arg) if arg.endswith(".csr") else arg for arg in args]
    error = refused(*paths, "--dir", directory)
    assert complaint in error


def test_a_ca_is_never_replaced(fleet: Fleet) -> None:
    before = (fleet.ca / "ca.key").read_bytes()
    assert "a CA is never replaced" in refused("ca", "init", "--country", "KZ", "--dir", fleet.ca)
    assert (fleet.ca / "ca.key").read_bytes() == before


# --- mutual TLS in Python's ssl ---------------------------------------------------------------


def server_context(fleet: Fleet, version: ssl.TLSVersion) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.minimum_version = context.maximum_version = version
    context.load_cert_chain(fleet.broker / "node.crt", fleet.broker / "node.key")
    context.load_verify_locations(fleet.ca / "ca.crt")
    context.verify_mode = ssl.CERT_REQUIRED
    return context


def client_context(fleet: Fleet, node: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=fleet.ca / "ca.crt")
    context.load_cert_chain(node / "node.crt", node / "node.key")
    return context


def serve_once(listener: socket.socket, context: ssl.SSLContext, store: TrustStore) -> str:
    """Accept one client, verify it by the trust store too, and greet it by its node id."""
    connection, _ = listener.accept()
    connection.settimeout(TIMEOUT)
    with context.wrap_socket(connection, server_side=True) as tls:
        peer = tls.getpeercert(binary_form=True)
        assert peer is not None
        node_id = str(store.verify_certificate(peer).node_id)
        tls.sendall(f"hello {node_id}".encode())
        return node_id


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        server.settimeout(TIMEOUT)
        yield server


@pytest.mark.parametrize("version", [ssl.TLSVersion.TLSv1_3, ssl.TLSVersion.TLSv1_2])
def test_node_and_broker_certificates_authenticate_each_other_over_tls(
    fleet: Fleet, listener: socket.socket, version: ssl.TLSVersion
) -> None:
    store = fleet.trust_store()
    port = listener.getsockname()[1]
    with ThreadPoolExecutor(1) as pool:
        server = pool.submit(serve_once, listener, server_context(fleet, version), store)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
            client_context(fleet, fleet.node).wrap_socket(raw, server_hostname="localhost") as tls,
        ):
            assert tls.version() == version.name.replace("_", ".")
            greeting = tls.recv(100)
            broker = tls.getpeercert(binary_form=True)
        assert server.result(timeout=TIMEOUT) == "KZ-NURZHOLY-1"
    assert greeting == b"hello KZ-NURZHOLY-1"
    assert broker is not None
    assert str(store.verify_certificate(broker).node_id) == "KZ-BROKER"


def test_the_broker_refuses_a_node_whose_ca_it_does_not_trust(
    fleet: Fleet, listener: socket.socket
) -> None:
    store = fleet.trust_store()
    with pytest.raises(UntrustedError) as untrusted:
        store.verify_certificate((fleet.stranger / "node.crt").read_bytes())
    assert untrusted.value.reason is Reason.BAD_SIGNATURE  # same CA name, another key
    port = listener.getsockname()[1]
    context = server_context(fleet, ssl.TLSVersion.TLSv1_3)
    with ThreadPoolExecutor(1) as pool:
        server = pool.submit(serve_once, listener, context, store)
        client = client_context(fleet, fleet.stranger)
        with (
            socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as raw,
            client.wrap_socket(raw, server_hostname="localhost") as tls,
            # TLS 1.3: the client finishes first; the server's refusal arrives as an alert.
            pytest.raises((ssl.SSLError, ConnectionResetError)),
        ):
            tls.recv(100)
        with pytest.raises(ssl.SSLCertVerificationError):
            server.result(timeout=TIMEOUT)


# --- a real mosquitto -------------------------------------------------------------------------


class Mosquitto:
    """Debian's mosquitto on a free loopback port, TLS with require_certificate and the
    certificate's CN as username; an ACL lets each node use only `nodes/<its id>/#`."""

    def __init__(self, fleet: Fleet, directory: Path) -> None:
        binary = shutil.which("mosquitto", path=f"{os.environ.get('PATH', '')}:/usr/sbin")
        assert binary, "mosquitto is not installed (scripts/debian-packages.txt)"
        with socket.create_server(("127.0.0.1", 0)) as probe:
            self.port = probe.getsockname()[1]
        (directory / "acl").write_text("pattern readwrite nodes/%u/#\n")
        (directory / "mosquitto.conf").write_text(
            f"""per_listener_settings false
listener {self.port} 127.0.0.1
cafile {fleet.ca / "ca.crt"}
certfile {fleet.broker / "node.crt"}
keyfile {fleet.broker / "node.key"}
require_certificate true
use_identity_as_username true
acl_file {directory / "acl"}
persistence false
log_dest stderr
user {getpass.getuser()}
"""
        )
        self.process = subprocess.Popen(
            [binary, "-c", str(directory / "mosquitto.conf")],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )  # fmt: skip
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.log: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            self.lines.put(line)
        self.lines.put(None)

    def wait_running(self) -> None:
        while (line := self.lines.get(timeout=TIMEOUT)) is not None:
            if " running" in line:
                return
        raise AssertionError(f"mosquitto stopped:\n{''.join(self.log)}")

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=TIMEOUT)


@pytest.fixture
def broker(fleet: Fleet, tmp_path: Path) -> Iterator[Mosquitto]:
    mosquitto = Mosquitto(fleet, tmp_path)
    try:
        mosquitto.wait_running()
        yield mosquitto
    finally:
        mosquitto.stop()


def test_mosquitto_takes_ed25519_certificates_and_the_node_id_as_username(
    fleet: Fleet, broker: Mosquitto
) -> None:
    received: queue.Queue[tuple[str, bytes]] = queue.Queue()
    connected: queue.Queue[ReasonCode] = queue.Queue()
    client = mqtt.Client(
        CallbackAPIVersion.VERSION2, client_id="KZ-NURZHOLY-1", protocol=mqtt.MQTTv5
    )
    client.tls_set(
        ca_certs=str(fleet.ca / "ca.crt"),
        certfile=str(fleet.node / "node.crt"),
        keyfile=str(fleet.node / "node.key"),
    )
    client.on_connect = lambda _c, _u, _f, code, _p: connected.put(code)
    client.on_subscribe = lambda c, _u, _m, _codes, _p: c.publish(
        "nodes/KZ-NURZHOLY-1/hello", b"salem", qos=1
    )
    client.on_message = lambda _c, _u, message: received.put(
        (message.topic, bytes(message.payload))
    )
    client.connect("localhost", broker.port)
    client.loop_start()
    try:
        assert connected.get(timeout=TIMEOUT) == 0
        client.subscribe("nodes/KZ-NURZHOLY-1/#", qos=1)
        # The ACL pattern nodes/%u/# only lets this through if the username is the node id.
        assert received.get(timeout=TIMEOUT) == ("nodes/KZ-NURZHOLY-1/hello", b"salem")
        assert isinstance(client.socket(), ssl.SSLSocket)
    finally:
        client.disconnect()
        client.loop_stop()
