"""A TCP proxy on a loopback port that can cut, stall, slow and delay the link behind it (a
test-only tool: it lives under tests/, outside the shipped packages).

Tests put it between the nodes and the broker to show what a border post's link
does: drops for hours (`cut`), hangs without a word (`stall`), or crawls (`bandwidth`, `latency`).
It forwards bytes and knows nothing of MQTT or TLS, so the certificates still name the broker.

    with TcpProxy(broker.port) as proxy:
        client.connect("127.0.0.1", proxy.port)
        proxy.cut()       # every connection reset; new ones reset too
        proxy.heal()      # connections go through again

The proxy runs its own asyncio loop in a daemon thread; every method may be called from any
other thread and returns once the loop has done it.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import socket
import struct
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal, TypeVar

T = TypeVar("T")
Direction = Literal["up", "down"]

# Above this many bytes queued in the proxy for one direction, stop reading its source.
HIGH_WATER = 1024 * 1024
LOW_WATER = 256 * 1024
_RESET_LINGER = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends RST


@dataclass(frozen=True)
class ProxyStats:
    accepted: int  # connections accepted and forwarded
    active: int  # connections open now
    refused: int  # connections reset on arrival while the link was cut
    dropped: int  # open connections reset by cut()
    bytes_up: int  # client to target
    bytes_down: int  # target to client
    cuts: int


class _Shaper:
    """One direction of the link: a shared bandwidth cap (token bucket, no burst) and latency."""

    def __init__(self, bandwidth: float | None, latency: float) -> None:
        self.bandwidth = bandwidth
        self.latency = latency
        self._free_at = 0.0

    def delivery_time(self, now: float, size: int) -> float:
        if self.bandwidth is None:
            return now + self.latency
        self._free_at = max(now, self._free_at) + size / self.bandwidth
        return self._free_at + self.latency


def _reset(transport: asyncio.BaseTransport) -> None:
    """Close with a TCP RST, as a dropped link or a refusing host looks to the other end."""
    sock = transport.get_extra_info("socket")
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed by the peer
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET_LINGER)
    if isinstance(transport, asyncio.Transport):
        transport.abort()
    else:
        transport.close()


class _Endpoint(asyncio.Protocol):
    """One of the two TCP connections of a proxied connection."""

    def __init__(self, link: _Link, direction: Direction) -> None:
        self.link = link
        self.direction = direction  # the direction of the bytes this endpoint receives
        self.transport: asyncio.Transport | None = None
        self.write_paused = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.link.endpoint_made(self)

    def data_received(self, data: bytes) -> None:
        self.link.forward(self.direction, data)

    def eof_received(self) -> bool:
        return False  # close; MQTT never half-closes

    def connection_lost(self, exc: Exception | None) -> None:
        self.link.endpoint_lost(self, exc)

    def pause_writing(self) -> None:
        self.write_paused = True
        self.link.update_reading()

    def resume_writing(self) -> None:
        self.write_paused = False
        self.link.update_reading()


class _Link:
    """One proxied connection: the client's endpoint, the target's, and the bytes between."""

    def __init__(self, proxy: _ProxyCore) -> None:
        self.proxy = proxy
        self.client = _Endpoint(self, "up")
        self.target = _Endpoint(self, "down")
        self.queues: dict[Direction, collections.deque[tuple[float, bytes]]] = {
            "up": collections.deque(),
            "down": collections.deque(),
        }
        self.queued: dict[Direction, int] = {"up": 0, "down": 0}
        self.timers: dict[Direction, asyncio.TimerHandle | None] = {"up": None, "down": None}
        self.closing: set[Direction] = set()
        self.closed = False

    def endpoint_made(self, endpoint: _Endpoint) -> None:
        if self.closed:  # the target answered after the link was cut or the client left
            self.reset()
            return
        if endpoint is self.client:
            self.proxy.links.add(self)
            task = asyncio.ensure_future(self._connect_target())
            self.proxy.tasks.add(task)
            task.add_done_callback(self.proxy.tasks.discard)
        else:
            self._drain("up")
        self.update_reading()

    async def _connect_target(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: self.target, *self.proxy.target)
        except OSError:
            self.reset()

    def forward(self, direction: Direction, data: bytes) -> None:
        self.proxy.count(direction, len(data))
        loop = asyncio.get_running_loop()
        when = self.proxy.shapers[direction].delivery_time(loop.time(), len(data))
        self.queues[direction].append((when, data))
        self.queued[direction] += len(data)
        self._drain(direction)

    def _destination(self, direction: Direction) -> _Endpoint:
        return self.target if direction == "up" else self.client

    def _drain(self, direction: Direction) -> None:
        self.timers[direction] = None
        destination = self._destination(direction).transport
        if destination is None or self.closed:
            return
        loop = asyncio.get_running_loop()
        queue = self.queues[direction]
        now = loop.time()
        while queue and queue[0][0] <= now:
            _, data = queue.popleft()
            self.queued[direction] -= len(data)
            destination.write(data)
        if queue:
            self.timers[direction] = loop.call_at(queue[0][0], self._drain, direction)
        elif direction in self.closing:
            destination.close()
        self.update_reading()

    def update_reading(self) -> None:
        """Read from each side only while the link is up and its bytes have somewhere to go."""
        sources: tuple[tuple[_Endpoint, Direction], ...] = (
            (self.client, "up"),
            (self.target, "down"),
        )
        for source, direction in sources:
            transport = source.transport
            if transport is None or transport.is_closing():
                continue
            destination = self._destination(direction)
            queued = self.queued[direction]
            blocked = self.proxy.stalled or destination.write_paused or queued > HIGH_WATER
            if blocked and transport.is_reading():
                transport.pause_reading()
            elif not blocked and queued <= LOW_WATER and not transport.is_reading():
                transport.resume_reading()

    def endpoint_lost(self, endpoint: _Endpoint, exc: Exception | None) -> None:
        """One side closed: pass the close on, after the bytes still on their way (a reset,
        at once)."""
        other = self.target if endpoint is self.client else self.client
        if other.transport is None or other.transport.is_closing():
            self._forget()
            return
        if exc is not None:
            self.reset()
            return
        direction: Direction = "up" if endpoint is self.client else "down"
        self.closing.add(direction)
        if not self.queues[direction]:
            other.transport.close()

    def reset(self) -> None:
        for endpoint in (self.client, self.target):
            if endpoint.transport is not None and not endpoint.transport.is_closing():
                _reset(endpoint.transport)
        self._forget()

    def _forget(self) -> None:
        if self.closed:
            return
        self.closed = True
        for timer in self.timers.values():
            if timer is not None:
                timer.cancel()
        self.proxy.links.discard(self)


class _Refuser(asyncio.Protocol):
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        _reset(transport)


class _ProxyCore:
    """The proxy's state, touched only on its loop's thread."""

    def __init__(self, target: tuple[str, int], bandwidth: float | None, latency: float) -> None:
        self.target = target
        self.shapers: dict[Direction, _Shaper] = {
            "up": _Shaper(bandwidth, latency),
            "down": _Shaper(bandwidth, latency),
        }
        self.links: set[_Link] = set()
        self.tasks: set[asyncio.Future[None]] = set()
        self.is_cut = False
        self.stalled = False
        self.accepted = self.refused = self.dropped = self.cuts = 0
        self.bytes: dict[Direction, int] = {"up": 0, "down": 0}

    def protocol(self) -> asyncio.Protocol:
        if self.is_cut:
            self.refused += 1
            return _Refuser()
        self.accepted += 1
        return _Link(self).client

    def count(self, direction: Direction, size: int) -> None:
        self.bytes[direction] += size

    def cut(self) -> None:
        self.cuts += 1
        self.is_cut = True
        for link in list(self.links):
            self.dropped += 1
            link.reset()

    def set_stalled(self, stalled: bool) -> None:
        self.stalled = stalled
        for link in list(self.links):
            link.update_reading()

    def stats(self) -> ProxyStats:
        return ProxyStats(
            accepted=self.accepted,
            active=len(self.links),
            refused=self.refused,
            dropped=self.dropped,
            bytes_up=self.bytes["up"],
            bytes_down=self.bytes["down"],
            cuts=self.cuts,
        )


class TcpProxy:
    def __init__(
        self,
        target_port: int,
        target_host: str = "127.0.0.1",
        listen_host: str = "127.0.0.1",
        listen_port: int = 0,
        bandwidth: float | None = None,
        latency: float = 0.0,
    ) -> None:
        """Forward `listen_host:listen_port` (0: a free port) to `target_host:target_port`,
        at most `bandwidth` bytes/s each way (None: no cap), each byte `latency` s late."""
        self.listen = (listen_host, listen_port)
        self._core = _ProxyCore((target_host, target_port), bandwidth, latency)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self.port = 0

    @property
    def host(self) -> str:
        return self.listen[0]

    def start(self) -> TcpProxy:
        if self._thread is not None:
            raise RuntimeError("the proxy is already running")
        loop = asyncio.new_event_loop()
        self._loop = loop
        self._thread = threading.Thread(target=loop.run_forever, name="tcp-proxy", daemon=True)
        self._thread.start()
        self._server = self._call(self._serve())
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def _serve(self) -> asyncio.Server:
        loop = asyncio.get_running_loop()
        return await loop.create_server(self._core.protocol, *self.listen, reuse_address=True)

    def stop(self) -> None:
        """Close the listening socket and every connection, and end the loop's thread."""
        if self._loop is None or self._thread is None:
            return
        self._call(self._shutdown())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=5)
        self._loop.close()
        self._loop = self._thread = None

    async def _shutdown(self) -> None:
        if self._server is not None:
            self._server.close()
        for link in list(self._core.links):
            link.reset()
        for task in list(self._core.tasks):
            task.cancel()
        await asyncio.sleep(0)  # let the transports run their close callbacks

    def cut(self) -> None:
        """Drop the link: reset every open connection, and reset every new one on arrival."""
        self._run(self._core.cut)

    def stall(self) -> None:
        """Hang the link: connections stay open but no byte moves either way (new ones too)
        until heal(); peers notice only by their keepalive timeouts."""
        self._run(lambda: self._core.set_stalled(True))

    def heal(self) -> None:
        """Bring the link back after cut() or stall(); stalled bytes flow on."""

        def heal() -> None:
            self._core.is_cut = False
            self._core.set_stalled(False)

        self._run(heal)

    def set_bandwidth(self, bandwidth: float | None) -> None:
        """Cap each direction at `bandwidth` bytes/s (None: no cap), from now on."""

        def update() -> None:
            for shaper in self._core.shapers.values():
                shaper.bandwidth = bandwidth

        self._run(update)

    def set_latency(self, latency: float) -> None:
        """Delay each direction by `latency` seconds, for bytes read from now on."""

        def update() -> None:
            for shaper in self._core.shapers.values():
                shaper.latency = latency

        self._run(update)

    @property
    def is_cut(self) -> bool:
        return self._core.is_cut

    def stats(self) -> ProxyStats:
        return self._run(self._core.stats)

    def __enter__(self) -> TcpProxy:
        if self._thread is None:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        if self._loop is None:
            coroutine.close()
            raise RuntimeError("the proxy is not running")
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout=10)

    def _run(self, function: Callable[[], T]) -> T:
        async def run() -> T:
            return function()

        return self._call(run())
