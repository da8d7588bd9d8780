"""The link simulator on its own, in front of a TCP echo server on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
from collections.abc import Iterator

import pytest

from tests.tcp_proxy import TcpProxy

# A deadline for waits, never a measure of speed: the proxy's speed is in
# tests/bench/bench_proxy.py.
TIMEOUT = 60.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        while data := self.request.recv(65536):
            self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


@pytest.fixture
def echo_port() -> Iterator[int]:
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()
    server.server_close()


def dial(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT)


def echo(sock: socket.socket, data: bytes) -> bytes:
    sock.sendall(data)
    received = b""
    while len(received) < len(data):
        chunk = sock.recv(65536)
        if not chunk:
            break
        received += chunk
    return received


def answer_to_new_connection(port: int) -> bytes:
    """Connect and read; the reset may come during connect() or after it, on loopback."""
    with dial(port) as sock:
        return sock.recv(10)


def test_bytes_go_through_both_ways_and_are_counted(echo_port: int) -> None:
    with TcpProxy(echo_port) as proxy, dial(proxy.port) as sock:
        assert echo(sock, b"x" * 100_000) == b"x" * 100_000
        stats = proxy.stats()
    assert (stats.accepted, stats.bytes_up, stats.bytes_down) == (1, 100_000, 100_000)


def test_cut_resets_open_connections_and_refuses_new_ones_until_healed(echo_port: int) -> None:
    with TcpProxy(echo_port) as proxy:
        with dial(proxy.port) as sock:
            assert echo(sock, b"before") == b"before"
            proxy.cut()
            with pytest.raises(ConnectionResetError):
                sock.recv(10)
        with pytest.raises(ConnectionResetError):
            answer_to_new_connection(proxy.port)
        proxy.heal()
        with dial(proxy.port) as sock:
            assert echo(sock, b"after") == b"after"
        stats = proxy.stats()
    assert (stats.cuts, stats.dropped, stats.refused, stats.accepted) == (1, 1, 1, 2)


def test_stalled_link_holds_bytes_and_delivers_them_when_healed(echo_port: int) -> None:
    with TcpProxy(echo_port) as proxy, dial(proxy.port) as sock:
        assert echo(sock, b"one") == b"one"
        proxy.stall()
        sock.sendall(b"two")  # on loopback: in the proxy's receive buffer when this returns
        # Each stats() is a round trip through the proxy's loop, whose selector sees the bytes
        # waiting: a proxy that still read would have counted them by the second one.
        proxy.stats()
        held = proxy.stats()
        assert (held.bytes_up, held.bytes_down) == (3, 3), "a stalled link moved bytes"
        sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            sock.recv(10)  # a silent link: no data, no reset
        sock.settimeout(TIMEOUT)
        proxy.heal()
        sock.sendall(b"three")  # a marker sent after the heal comes back after the held bytes
        assert echo_rest(sock, len(b"twothree")) == b"twothree"
        assert proxy.stats().bytes_up == len(b"onetwothree")


def echo_rest(sock: socket.socket, size: int) -> bytes:
    received = b""
    while len(received) < size:
        chunk = sock.recv(65536)
        assert chunk, f"connection closed after {received!r}"
        received += chunk
    return received


def test_bandwidth_cap_passes_every_byte_intact(echo_port: int) -> None:
    # How much the cap slows a transfer is measured in tests/bench/bench_proxy.py.
    data = bytes(range(256)) * 240
    with TcpProxy(echo_port, bandwidth=200_000.0) as proxy, dial(proxy.port) as sock:
        assert echo(sock, data) == data
        proxy.set_bandwidth(None)
        assert echo(sock, data) == data
        stats = proxy.stats()
    assert (stats.bytes_up, stats.bytes_down) == (2 * len(data), 2 * len(data))


def test_latency_keeps_bytes_in_order_each_way(echo_port: int) -> None:
    # The delay itself is measured in tests/bench/bench_proxy.py.
    with TcpProxy(echo_port, latency=0.05) as proxy, dial(proxy.port) as sock:
        for index in range(20):
            sock.sendall(b"%03d" % index)
        assert echo_rest(sock, 60) == b"".join(b"%03d" % index for index in range(20))
        proxy.set_latency(0.0)
        assert echo(sock, b"ping") == b"ping"
        assert proxy.stats().bytes_up == 64


def test_connection_to_a_target_that_is_down_is_reset() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_port = unused.getsockname()[1]
    with TcpProxy(dead_port) as proxy:
        with pytest.raises(ConnectionResetError):
            answer_to_new_connection(proxy.port)
        assert proxy.stats().active == 0
