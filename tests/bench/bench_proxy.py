"""The test link simulator (tests/tcp_proxy.py) against a direct loopback connection, measured
in the same run (issue 12 moved these figures here from test assertions): the round trip of a
small message and of a 60 kB transfer to a TCP echo server, direct and through the proxy with no
shaping, with a bandwidth cap, and with added latency.

    .venv/bin/python -m tests.bench.bench_proxy [--repeats R]

What the shaping should give: a capped transfer takes at least size / rate each way
(overlapping when echoed), and a latency L adds at least 2 L to a round trip.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import socket
import socketserver
import statistics
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from tests.tcp_proxy import TcpProxy

SIZE = 60_000
RATE = 200_000.0
LATENCY = 0.1
TIMEOUT = 60.0


class _Echo(socketserver.BaseRequestHandler):
    def handle(self) -> None:
        with contextlib.suppress(ConnectionResetError):  # the proxy resets its links on stop
            while data := self.request.recv(65536):
                self.request.sendall(data)


class _EchoServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


def _round_trip(port: int, data: bytes) -> float:
    with socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT) as sock:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        started = time.perf_counter()
        sock.sendall(data)
        received = 0
        while received < len(data):
            chunk = sock.recv(65536)
            if not chunk:
                raise RuntimeError("the echo server closed the connection")
            received += len(chunk)
        return time.perf_counter() - started


def _median_ms(measure: Callable[[], float], repeats: int) -> float:
    return round(statistics.median(measure() * 1000 for _ in range(repeats)), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_proxy")
    parser.add_argument("--repeats", type=int, default=5, help="round trips per figure")
    args = parser.parse_args(argv)
    server = _EchoServer(("127.0.0.1", 0), _Echo)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    echo_port = server.server_address[1]
    small, large = b"ping", b"y" * SIZE
    report: dict[str, Any] = {"benchmark": "tcp_proxy", "transfer_bytes": SIZE}
    try:
        report["direct_ms"] = {
            "small": _median_ms(lambda: _round_trip(echo_port, small), args.repeats),
            "transfer": _median_ms(lambda: _round_trip(echo_port, large), args.repeats),
        }
        with TcpProxy(echo_port) as proxy:
            report["proxy_ms"] = {
                "small": _median_ms(lambda: _round_trip(proxy.port, small), args.repeats),
                "transfer": _median_ms(lambda: _round_trip(proxy.port, large), args.repeats),
            }
        with TcpProxy(echo_port, bandwidth=RATE) as proxy:
            capped = _median_ms(lambda: _round_trip(proxy.port, large), args.repeats)
        report["bandwidth_cap"] = {
            "bytes_per_s": RATE,
            "transfer_ms": capped,
            "expected_min_ms": round(SIZE / RATE * 1000, 2),
        }
        with TcpProxy(echo_port, latency=LATENCY) as proxy:
            delayed = _median_ms(lambda: _round_trip(proxy.port, small), args.repeats)
        report["latency"] = {
            "latency_s": LATENCY,
            "small_ms": delayed,
            "expected_min_ms": round(2 * LATENCY * 1000, 2),
        }
    finally:
        server.shutdown()
        server.server_close()
    report["shaping_holds"] = (
        capped >= report["bandwidth_cap"]["expected_min_ms"] * 0.9
        and delayed >= report["latency"]["expected_min_ms"]
    )
    print(json.dumps(report))
    return 0


if __name__ == "__main__":
    sys.exit(main())
