"""The kiosk inside `carec-edge run`: the officer's web app served on the service's own event
loop, over the service's store thread, with the live devices, the sync links, the drivers'
scan parsers, and decisions that leave through the outbox."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import socket
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

import uvicorn

from drivers.backoff import Backoff
from edge.decisions import Decision
from edge.logs import log_event
from edge.officers import OfficerStore
from edge.readings import Reading
from edge.service.inspections import InspectionDispatch
from edge.service.scans import classify_scan
from sync.status import OutboxStatus
from ui_kiosk import KioskSettings, create_app
from ui_kiosk.events import SHUTDOWN_GRACE_SECONDS
from ui_kiosk.models import DeviceHealthView, PeerStatusView
from ui_kiosk.store_backend import StoreBackend

if TYPE_CHECKING:
    from edge.service import EdgeService

log = logging.getLogger(__name__)


class _Server(uvicorn.Server):
    """uvicorn without its own signal handlers: SIGTERM is the service's to handle."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


_STARTING: set[asyncio.Task[int]] = set()  # start-up jobs, kept until they are done


def make_backend(service: EdgeService) -> StoreBackend:
    config = service.config
    lane_names = sorted({s.lane for s in service.devices.values()} | {config.lanes.default_lane})
    seal_patterns = tuple(
        pattern for d in config.devices for pattern in d.get("seal_patterns", ()) or ()
    )

    def scan(text: str, at: dt.datetime) -> Reading:
        return classify_scan(text, at, seal_patterns)

    def devices() -> list[DeviceHealthView]:
        return [
            DeviceHealthView(
                id=id_,
                kind=s.kind,
                lane=s.lane,
                health=s.health,
                why=s.why,
                readings=s.readings,
                rejects=s.rejects,
            )
            for id_, s in service.devices.items()
        ]

    peers: Callable[[], list[PeerStatusView]] | None = None
    if service.config.sync.peers:

        def peers() -> list[PeerStatusView]:
            return [
                PeerStatusView(name=name, connected=link.connected.is_set())
                for name, link in service.links.items()
            ]

    backend = StoreBackend(
        service.engine,
        service.lanes,
        officers=OfficerStore(service.engine),
        run=service.in_store,
        lane_names=lane_names,
        classify_scan=scan,
        devices=devices,
        peers=peers,
        sync_source=OutboxStatus(service.outbox) if service.outbox is not None else None,
    )
    if service.dispatch is not None:
        # A decision's messages are written in its own transaction (edge.service.dispatch).
        backend.decisions.hooks.append(service.dispatch.hook)
        backend.add_decision_listener(lambda decision: _wake_links(service, decision))
    if service.outbox is not None:
        # An inspection result's message to the centre, in its own transaction.
        centre = service.config.fleet.report_to
        inspections = InspectionDispatch(service.outbox, service.config.node.id, centre)
        backend.inspection_hooks.append(inspections.hook)
        # Those the outbox refused before (no route then): on the store thread, soon.
        task = asyncio.get_running_loop().create_task(
            service.in_store(inspections.send_unqueued_now, service.engine)
        )
        _STARTING.add(task)
        task.add_done_callback(_STARTING.discard)
    return backend


def _wake_links(service: EdgeService, decision: Decision) -> None:
    """After a decision's commit: its messages are in the outbox, the links may take them."""
    if decision.kind.is_final:
        for link in service.links.values():
            link.notify()
        log_event(log, logging.INFO, "decision.queued", decision=decision.id,
                  arrival=decision.arrival_id)  # fmt: skip


def _listen(host: str, port: int) -> socket.socket:
    """Our own listening socket: uvicorn exits the process when it cannot bind one itself."""
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    sock.setblocking(False)
    return sock


async def serve_kiosk(service: EdgeService, backend: StoreBackend) -> None:
    """Serve until cancelled."""
    config = service.config.kiosk
    settings = KioskSettings(
        host=config.host,
        port=config.port,
        idle_timeout_minutes=config.idle_timeout_minutes,
        timezone=config.timezone,
        default_language=config.default_language,
    )
    app = create_app(backend, settings)
    backoff = Backoff(initial_s=2.0, cap_s=60.0)
    try:
        while True:
            try:
                sock = _listen(config.host, config.port)
            except OSError as error:
                # The port is taken, or the address is not this box's: the rest of the box
                # goes on, and the kiosk tries again.
                log_event(
                    log, logging.ERROR, "kiosk.not_serving", port=config.port, error=str(error)
                )
                await asyncio.sleep(backoff.next_delay())
                continue
            server = _Server(
                uvicorn.Config(app, host=config.host, port=config.port, log_config=None,
                               access_log=False, lifespan="on",  # purges expired sessions
                               timeout_graceful_shutdown=SHUTDOWN_GRACE_SECONDS)
            )  # fmt: skip
            task = asyncio.create_task(server.serve(sockets=[sock]), name="kiosk-http")
            log_event(
                log, logging.INFO, "kiosk.serving", url=f"http://{config.host}:{config.port}/"
            )
            try:
                await asyncio.shield(task)
            finally:
                server.should_exit = True
                with contextlib.suppress(asyncio.CancelledError):
                    await task
                sock.close()
    finally:
        backend.close()
