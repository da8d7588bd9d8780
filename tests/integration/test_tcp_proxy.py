"""The link simulator on its own, in front of a TCP echo server on loopback."""

from __future__ import annotations

import socket
import socketserver
import threading
import time
from collections.abc import Iterator

import pytest

from tests.tcp_proxy import TcpProxy

TIMEOUT = 5.0


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
        sock.sendall(b"two")
        sock.settimeout(0.3)
        with pytest.raises(TimeoutError):
            sock.recv(10)  # a silent link: no data, no reset
        sock.settimeout(TIMEOUT)
        proxy.heal()
        assert sock.recv(10) == b"two"


def test_bandwidth_cap_slows_a_transfer(echo_port: int) -> None:
    size, rate = 60_000, 200_000.0  # echoed: 0.3 s each way, overlapping
    with TcpProxy(echo_port, bandwidth=rate) as proxy, dial(proxy.port) as sock:
        started = time.monotonic()
        assert echo(sock, b"y" * size) == b"y" * size
        elapsed = time.monotonic() - started
    assert elapsed >= size / rate * 0.9


def test_latency_delays_each_direction(echo_port: int) -> None:
    # Only the lower bound is a fact of the proxy (the delay is added each way); how fast it
    # goes without latency belongs in a benchmark, not here.
    with TcpProxy(echo_port, latency=0.1) as proxy, dial(proxy.port) as sock:
        started = time.monotonic()
        assert echo(sock, b"ping") == b"ping"
        assert time.monotonic() - started >= 0.2
        proxy.set_latency(0.0)
        assert echo(sock, b"ping") == b"ping"
        assert proxy.stats().bytes_up == 8


def test_connection_to_a_target_that_is_down_is_reset() -> None:
    with socket.socket() as unused:
        unused.bind(("127.0.0.1", 0))
        dead_port = unused.getsockname()[1]
    with TcpProxy(dead_port) as proxy:
        with pytest.raises(ConnectionResetError):
            answer_to_new_connection(proxy.port)
        assert proxy.stats().active == 0
