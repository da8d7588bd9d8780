"""The service `carec-edge run` starts: one asyncio loop that wires the rooms together.

Start: open the store, warm the manifest cache, purge expired records, tell systemd READY=1.
Then the background tasks run (see `EdgeService.background_tasks`, the one place to add more)
while a watchdog task pets systemd as long as the store thread answers (`edge.service.watchdog`).
SIGTERM or SIGINT stops it: STOPPING=1, every task cancelled, the store closed, exit status 0.
A task that dies stops the service with status 1, so systemd restarts it.

Store work is blocking, so it runs in one dedicated thread (`EdgeService.in_store`): the loop
stays free, and the store and the cache's in-memory index are only ever touched by that thread.

Devices run in threads of their own and hand their readings to the loop, which attaches each
to the truck at the device's lane (`edge.arrivals.Lanes`) on the store thread.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import functools
import gc
import logging
import signal
import threading
import time
from collections.abc import Callable, Coroutine, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from drivers.registry import (
    DeviceConfig,
    DeviceConfigError,
    RunningDevice,
    make_device,
    parse_devices,
)
from edge import faults, systemd_notify
from edge.arrivals import ArrivalStore, Lanes
from edge.config import Config, ConfigError, load_config
from edge.logs import error_first_line, log_event
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.reading_quarantine import ReadingQuarantine
from edge.readings import Health, PresenceChange, Reading
from edge.service.dispatch import DecisionDispatch
from edge.service.fleet_agent import FleetAgent
from edge.service.fleet_restart import rolled_back_after
from edge.service.upkeep import DISK, ReadingsQueue, crop_store, disk_job, retention_job
from edge.service.watchdog import pet_while_the_store_answers
from edge.store import open_database
from edge.timeutil import format_utc, utcnow
from sync.inbox import Checked, Result
from sync.messages import Message
from sync.outbox import Outbox
from sync.setup import SyncParts, build_sync
from sync.tlog.rounds import INTEGRATE_EVERY_S, LogRounds
from sync.tlog.store import TransparencyLog
from sync.transport import PeerLink, Pipeline

if TYPE_CHECKING:
    from drivers.camera.capture import Frame
    from drivers.plates.camera_plates import CameraPlates
    from ui_kiosk.store_backend import StoreBackend

logger = logging.getLogger(__name__)

T = TypeVar("T")
Job = Coroutine[Any, Any, None]


PLATE_READER = "plate-reader"  # the recognition worker, shown beside the devices


@dataclass
class DeviceStatus:
    kind: str
    lane: str
    health: Health = Health.DISCONNECTED
    why: str = "not started"
    readings: int = 0
    rejects: int = 0
    frames: int = 0  # camera frames handed on while a vehicle was in view


class EdgeService:
    def __init__(
        self,
        config: Config,
        data_dir: Path,
        devices: Sequence[DeviceConfig] = (),
        *,
        config_path: Path | None = None,
    ) -> None:
        self.config = config
        self.data_dir = data_dir
        self.config_path = config_path  # the file a twin change rewrites; None: none
        self.device_configs = list(devices)
        self.devices: dict[str, DeviceStatus] = {
            d.id: DeviceStatus(d.kind, d.lane or config.lanes.default_lane) for d in devices
        }
        self._lanes: Lanes | None = None
        self.dispatch: DecisionDispatch | None = None  # decisions to the outbox; with sync only
        self._sync: SyncParts | None = None
        self._log_rounds: LogRounds | None = None  # the transparency log's upkeep, with sync
        self.links: dict[str, PeerLink] = {}
        self.kiosk: StoreBackend | None = None
        # Bounded: a reading beyond `retention.readings_queue` is refused and counted.
        self.readings = ReadingsQueue(config.retention.readings_queue)
        self._readings = self.readings.queue
        self.crops = crop_store(data_dir, config.retention)
        self.devices[DISK] = DeviceStatus(
            "disk", config.lanes.default_lane, Health.CONNECTED, "not checked yet"
        )
        self._plates: CameraPlates | None = None
        self._event_loop: asyncio.AbstractEventLoop | None = None
        self._store_thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store")
        self._engine: Engine | None = None
        self._cache: ManifestCache | None = None
        self._tasks: dict[asyncio.Task[None], str] = {}
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()  # set once READY=1 is sent
        self.readings_quarantined = 0  # readings whose attaching raised (edge.reading_quarantine)
        self.readings_lost = 0  # readings neither attached nor quarantined (the store refused)
        self._reading_quarantine: ReadingQuarantine | None = None
        self._stop_reason = ""
        self.restart_requested = False  # stopped to start again on the file re-read
        self.fleet = FleetAgent(self, config_path)

    # -- what runs ---------------------------------------------------------------------------

    def background_tasks(self) -> dict[str, Job]:
        """The long-running tasks, by name, started once the store is open. Add devices, the
        kiosk and sync here. Each runs until cancelled and cleans up in its own `finally`."""
        return {
            "purge": self._purge_every_interval(),
            "devices": self._run_devices(),
            "arrivals": self._attach_readings(),
            "idle-arrivals": self._expire_idle_arrivals(),
            "sync": self._run_sync(),
            "transparency": self._keep_log(),
            "kiosk": self._run_kiosk(),
            "retention": retention_job(
                self.in_store, lambda: self.engine, self.crops, self.config.retention,
                self.config.service.purge_interval_minutes * 60,
            ),
            "disk": disk_job(
                self.in_store, lambda: self.engine, self.crops, self.data_dir,
                self.config.retention, lambda health, why: self._note_health(DISK, health, why),
            ),
            **self.fleet.tasks(),
        }  # fmt: skip

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            raise RuntimeError("the store is not open yet")
        return self._engine

    @property
    def cache(self) -> ManifestCache:
        if self._cache is None:
            raise RuntimeError("the store is not open yet")
        return self._cache

    @property
    def lanes(self) -> Lanes:
        if self._lanes is None:
            raise RuntimeError("the store is not open yet")
        return self._lanes

    async def in_store(self, function: Callable[..., T], *args: Any) -> T:
        """Run blocking store work on the store thread, one job at a time."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._store_thread, function, *args)

    # -- life cycle --------------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped; the process exit status."""
        self._event_loop = asyncio.get_running_loop()
        self._handle_signals()
        self._spawn("watchdog", self._pet_watchdog())
        log_event(
            logger,
            logging.INFO,
            "service.starting",
            node=self.config.node.id,
            data_dir=str(self.data_dir),
        )
        try:
            try:
                manifests = await self._start()
            except (OSError, SQLAlchemyError) as error:
                # A store that cannot live where it was told (a file, a read-only disk, a full
                # one): the reason is the message, a traceback would only hide it.
                log_event(
                    logger, logging.ERROR, "service.failed", stage="start",
                    reason=f"cannot open the store in {self.data_dir}: {error_first_line(error)}",
                )  # fmt: skip
                return 1
            except Exception:
                log_event(logger, logging.ERROR, "service.failed", exc_info=True, stage="start")
                return 1
            for name, task in self.background_tasks().items():
                self._spawn(name, task)
            systemd_notify.ready(f"ready, {manifests} manifests cached")
            self._ready.set()
            log_event(logger, logging.INFO, "service.ready", manifests=manifests)
            return await self._supervise()
        finally:
            await self._shutdown()

    def restart(self, reason: str) -> None:
        """Stop, to be started again on the configuration file read anew (`run_service`)."""
        self.restart_requested = True
        self.stop(f"restart: {reason}")

    def stop(self, reason: str = "requested") -> None:
        """Ask the service to stop. Call it on the loop's thread (signal handlers do)."""
        if not self._stop.is_set():
            self._stop_reason = reason
            self._stop.set()

    async def _start(self) -> int:
        """Open the store, warm the cache and purge it; how many manifests it then holds."""
        self._engine = await self.in_store(open_database, self.data_dir)
        self._cache = ManifestCache(self._engine)
        matcher = Matcher(self._cache, self.config.matching)
        idle = dt.timedelta(minutes=self.config.lanes.idle_timeout_minutes)
        self._lanes = Lanes(ArrivalStore(self._engine, self.crops), matcher, idle)
        if self.config.sync.peers:
            make_sync = functools.partial(build_sync, extra_appliers=self.fleet.appliers)
            self._sync = await self.in_store(
                make_sync, self.config.sync, self.config.node.id, self._engine, self._cache
            )
            if self.config.sync.transparency.enabled:
                self._log_rounds = LogRounds(
                    TransparencyLog(
                        self._engine, self.config.node.id, self._sync.signer.private_key
                    ),
                    self._sync.outbox,
                    self.config.sync.transparency,
                )
            await self.fleet.start()
            await self._send_unqueued_decisions()
        index = await self.in_store(self._cache.plate_index)
        log_event(logger, logging.INFO, "cache.warmed", plate_keys=len(index.keys))
        await self.purge_expired()
        return await self.in_store(self._cache.count)

    async def _send_unqueued_decisions(self) -> None:
        """Before the kiosk takes decisions: send those stored without their messages."""
        assert self._sync is not None
        self.dispatch = DecisionDispatch(
            self.engine, self.cache, self.config.node.id, self.config.sync, self._sync.outbox
        )
        await self._resend_unqueued_decisions(always_log=True)

    async def _resend_unqueued_decisions(self, *, always_log: bool = False) -> None:
        if self.dispatch is None:
            return
        queued = failed = 0
        after: int | None = 0
        try:
            while after is not None:  # one store job a batch: the lanes go on between two
                batch, after = await self.in_store(self.dispatch.send_unqueued_batch, after)
                queued, failed = queued + batch.queued, failed + batch.failed
        except SQLAlchemyError as error:
            log_event(
                logger, logging.ERROR, "decisions.reconcile_failed", error=type(error).__name__
            )
            return
        if always_log or queued or failed:
            level = logging.ERROR if failed else logging.INFO
            log_event(logger, level, "decisions.reconciled", queued=queued, failed=failed)

    def _handle_signals(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop, sig.name)
        if _BETWEEN_RUNS:  # a stop asked for while the service restarted
            self.stop(_BETWEEN_RUNS[0])

    def _spawn(self, name: str, coroutine: Job) -> None:
        self._tasks[asyncio.create_task(coroutine, name=name)] = name

    async def _supervise(self) -> int:
        """Wait for a stop request or for a task to end; a task ending is a failure."""
        stop_requested = asyncio.create_task(self._stop.wait(), name="stop-requested")
        try:
            done, _ = await asyncio.wait(
                [stop_requested, *self._tasks], return_when=asyncio.FIRST_COMPLETED
            )
        finally:
            stop_requested.cancel()
        if stop_requested in done:
            log_event(logger, logging.INFO, "service.stopping", reason=self._stop_reason)
            return 0
        for task, name in self._tasks.items():
            if task in done:
                error = task.exception()
                log_event(
                    logger,
                    logging.ERROR,
                    "service.task_ended",
                    task=name,
                    error=repr(error) if error else "returned",
                )
        return 1

    async def _shutdown(self) -> None:
        if self.restart_requested:
            # Not STOPPING=1: systemd would wait for the process to end. The next run's READY=1
            # ends the reload (the watchdog is petted again once it is up).
            monotonic_us = time.monotonic_ns() // 1000
            systemd_notify.notify(f"RELOADING=1\nMONOTONIC_USEC={monotonic_us}")
        else:
            systemd_notify.stopping()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        self._tasks.clear()
        if self._engine is not None:
            await self.in_store(self._engine.dispose)
        self._store_thread.shutdown(wait=True)
        log_event(logger, logging.INFO, "service.stopped")

    # -- tasks -------------------------------------------------------------------------------

    async def _pet_watchdog(self) -> None:
        interval = systemd_notify.watchdog_interval()
        if interval is None:
            await asyncio.Event().wait()  # no watchdog to pet: idle until cancelled
            return
        await pet_while_the_store_answers(self.in_store, interval, self._ready)

    async def purge_expired(self) -> int:
        """Delete the records expected more than `store.retention_days` ago; how many."""
        cutoff = utcnow() - dt.timedelta(days=self.config.store.retention_days)
        purged = await self.in_store(self.cache.purge, cutoff)
        log_event(logger, logging.INFO, "purge.done", purged=purged, cutoff=format_utc(cutoff))
        return purged

    async def _purge_every_interval(self) -> None:
        interval = self.config.service.purge_interval_minutes * 60
        while True:
            await asyncio.sleep(interval)
            try:
                await self.purge_expired()
            except SQLAlchemyError as error:
                log_event(logger, logging.ERROR, "purge.failed", error=error_first_line(error))
            if self._sync is not None:
                # A decision whose messages the outbox refused while running is kept; send it
                # now rather than only at the next start (an anti-join on an index, cheap).
                await self._resend_unqueued_decisions()

    # -- devices and arrivals ------------------------------------------------------------------

    async def _run_devices(self) -> None:
        """Start every configured device; they run in their own threads until cancelled."""
        loop = asyncio.get_running_loop()
        running: list[RunningDevice] = []

        def on_reading(reading: Reading) -> None:  # device thread
            loop.call_soon_threadsafe(self._queue_reading, reading)

        def on_health(device_id: str, health: Health, why: str) -> None:  # device thread
            loop.call_soon_threadsafe(self._note_health, device_id, health, why)

        def on_reject(device_id: str, reason: str) -> None:  # device thread
            loop.call_soon_threadsafe(self._note_reject, device_id, reason)

        plates = self._plate_reader(on_reading, on_reject, on_health)

        def on_frame(frame: Frame) -> None:  # trigger thread
            self.devices[frame.device].frames += 1
            if plates is not None:
                plates.on_frame(frame)

        try:
            if plates is not None:
                plates.start()
                running.append(plates)
            for config in self.device_configs:
                device = make_device(config, on_reading, on_health, on_reject, on_frame)
                device.start()
                running.append(device)
            log_event(logger, logging.INFO, "devices.started", count=len(running))
            await asyncio.Event().wait()  # until cancelled
        finally:
            for device in running:
                await asyncio.to_thread(device.stop)

    def _plate_reader(
        self,
        on_reading: Callable[[Reading], None],
        on_reject: Callable[[str, str], None],
        on_health: Callable[[str, Health, str], None],
    ) -> CameraPlates | None:
        """Plate recognition for the lane cameras, in its own process; None without cameras."""
        cameras = [d for d in self.device_configs if d.kind == "camera"]
        if not cameras or not self.config.plates.enabled:
            return None
        from drivers.plates.camera_plates import CameraPlates
        from drivers.plates.recognizer import RecognizerSettings
        from drivers.plates.text_detector import DetectorSettings

        settings = self.config.plates
        lane = cameras[0].lane or self.config.lanes.default_lane
        self.devices[PLATE_READER] = DeviceStatus("plate-reader", lane)
        self._plates = CameraPlates(
            on_reading,
            on_reject,
            lambda health, why: on_health(PLATE_READER, health, why),
            positions={
                d.id: "trailer" if getattr(d, "position", "front") == "rear" else "tractor"
                for d in cameras
            },
            settings=RecognizerSettings(
                detector=DetectorSettings(max_side=settings.detector_side),
                second_pass_side=settings.second_pass_side,
                use_plate_detector=settings.plate_detector,
            ),
            vehicle_gap_s=settings.vehicle_gap_s,
        )
        return self._plates

    def _note_health(self, device_id: str, health: Health, why: str) -> None:
        status = self.devices[device_id]
        status.health, status.why = health, why
        log_event(
            logger, logging.INFO, "device.health", device=device_id, health=health.value, why=why
        )

    def _note_reject(self, device_id: str, reason: str) -> None:
        self.devices[device_id].rejects += 1
        log_event(logger, logging.WARNING, "device.reject", device=device_id, reason=reason)

    async def _attach_readings(self) -> None:
        while True:
            reading = await self._readings.get()
            if isinstance(reading, PresenceChange) and not reading.present and self._plates:
                self._plates.vehicle_left(reading.device)  # its plate vote is over
            status = self.devices.get(reading.device)
            lane = status.lane if status else self.config.lanes.default_lane
            if status:
                status.readings += 1
            try:
                arrival_id = await self.in_store(self._attach, lane, reading)
            except Exception as error:  # a reading that breaks the service is kept, not fatal
                # A store error too: the quarantine's own insert may still go through (the
                # attach's transaction was rolled back); when it does not, the loss is counted.
                if isinstance(error, SQLAlchemyError):
                    log_event(
                        logger, logging.ERROR, "arrival.store_failed", device=reading.device,
                        error=error_first_line(error),
                    )  # fmt: skip
                await self._quarantine(reading, error)
                continue
            self._arrival_changed(arrival_id)
            log_event(
                logger,
                logging.INFO,
                "arrival.reading",
                arrival=arrival_id,
                lane=lane,
                device=reading.device,
                kind=reading.kind,
            )

    def _attach(self, lane: str, reading: Reading) -> int | None:
        """On the store thread: the reading to its lane's arrival."""
        faults.reached("service.reading")
        return self.lanes.on_reading(lane, reading)

    async def _quarantine(self, reading: Reading, error: Exception) -> None:
        # The log names the error's type only: its message may quote the reading (an MRZ).
        reason = f"{type(error).__name__}: {error_first_line(error)}"
        if self._reading_quarantine is None:
            self._reading_quarantine = ReadingQuarantine(self.engine)
        quarantine = self._reading_quarantine
        try:
            row = await self.in_store(quarantine.keep, reading, reason)
        except SQLAlchemyError as failure:
            self.readings_lost += 1  # neither attached nor kept: counted, never silent
            log_event(
                logger, logging.ERROR, "reading.quarantine_failed", device=reading.device,
                kind=reading.kind, error=type(error).__name__,
                store_error=error_first_line(failure), lost=self.readings_lost,
            )  # fmt: skip
            return
        self.readings_quarantined += 1
        log_event(
            logger, logging.ERROR, "reading.quarantined", device=reading.device,
            kind=reading.kind, error=type(error).__name__, row=row,
            quarantined=self.readings_quarantined, dropped=quarantine.dropped,
        )  # fmt: skip

    def submit(self, reading: Reading) -> None:
        """Hand a reading to the service from any thread (a device's, plate recognition's):
        it attaches to its device's lane on the store thread, in order."""
        self._loop().call_soon_threadsafe(self._queue_reading, reading)

    def _queue_reading(self, reading: Reading) -> None:
        if not self.readings.put(reading) and reading.device in self.devices:
            self.devices[reading.device].rejects += 1  # the technician sees the overflow

    def _loop(self) -> asyncio.AbstractEventLoop:
        if self._event_loop is None:
            raise RuntimeError("the service is not running")
        return self._event_loop

    @property
    def outbox(self) -> Outbox | None:
        return self._sync.outbox if self._sync else None

    def _arrival_changed(self, arrival_id: int | None) -> None:
        if arrival_id is not None and self.kiosk is not None:
            self.kiosk.notify_arrival_changed(arrival_id)

    async def _run_kiosk(self) -> None:
        if not self.config.kiosk.enabled:
            await asyncio.Event().wait()
            return
        from edge.service.kiosk import make_backend, serve_kiosk  # the web stack: only when on

        self.kiosk = make_backend(self)
        self.kiosk.fleet_source = self.fleet.kiosk_view
        await serve_kiosk(self, self.kiosk)

    # -- sync ----------------------------------------------------------------------------------

    async def send(self, payload: Message, destination: str) -> str:
        """Put a message in the outbox (durable when this returns) and wake its link."""
        if self._sync is None:
            raise RuntimeError("sync is not configured: no [[sync.peers]]")
        message_id = await self.in_store(self._sync.outbox.send, payload, destination)
        for link in self.links.values():
            link.notify()
        return message_id

    async def _run_sync(self) -> None:
        if self._sync is None:
            await asyncio.Event().wait()  # sync is off: idle until cancelled
            return
        inbox = self._sync.inbox

        def apply(checked: Checked) -> Future[list[Result]]:  # a link's worker thread
            # The inbox touches the manifest cache, which only the store thread may; the link
            # verifies the next batch meanwhile (`inbox.check` needs no store).
            return self._store_thread.submit(inbox.apply, checked)

        receive = Pipeline(inbox.check, apply)
        settle_heap()
        try:
            for settings in self._sync.peers:
                link = PeerLink(
                    settings, self.config.node.id, self._sync.outbox, receive,
                    on_health=self._link_health,
                )  # fmt: skip
                link.start()
                self.links[settings.name] = link
            log_event(logger, logging.INFO, "sync.started", peers=",".join(self.links))
            await asyncio.Event().wait()
        finally:
            for link in self.links.values():
                await asyncio.to_thread(link.stop)

    def _link_health(self, _peer: str, up: bool, _why: str) -> None:
        """A link's worker thread: a link that comes up is a sync, and a sync checkpoints."""
        if up and self._log_rounds is not None:
            self._log_rounds.synced()

    async def _keep_log(self) -> None:
        """The transparency log's upkeep: integrate, checkpoint when due, purge."""
        if self._log_rounds is None:
            await asyncio.Event().wait()  # sync is off: nothing is signed or applied
            return
        while True:
            try:
                await self.in_store(self._log_rounds.round)
            except SQLAlchemyError as error:
                log_event(logger, logging.ERROR, "tlog.round_failed", error=error_first_line(error))
            await asyncio.sleep(INTEGRATE_EVERY_S)

    async def _expire_idle_arrivals(self) -> None:
        while True:
            await asyncio.sleep(60)
            closed = await self.in_store(self.lanes.expire_idle)
            for arrival_id in closed:
                self._arrival_changed(arrival_id)
            if closed:
                log_event(logger, logging.INFO, "arrivals.timed_out", arrivals=closed)


# The youngest generation's threshold once started: a batch of received messages makes tens of
# thousands of short-lived objects (models, dicts, rows), which CPython's default (700
# allocations) would sweep dozens of times a batch.
GC_YOUNG_THRESHOLD = 20_000


def settle_heap() -> None:
    """After start: what was loaded so far (modules, models, the cache's index) is moved out of
    the collector's sight for good (`gc.freeze`), and the young generation is collected less
    often, so that the message path does not pay for sweeping a heap that does not change."""
    gc.collect()
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(GC_YOUNG_THRESHOLD, middle, oldest)


def run_service(
    config: Config,
    data_dir: Path,
    devices: Sequence[DeviceConfig] = (),
    *,
    config_path: Path | None = None,
) -> int:
    """Run the service in a fresh event loop until it stops; the process exit status.

    A service that stops to restart (a twin change, a `restart` command) starts again in the
    same process on `config_path` read anew. A file that no longer loads, or a service that
    fails, while a twin change is in its grace period: the file before is put back
    (`edge.service.fleet_restart`) and the service starts again on it."""
    while True:
        _catch_signals_between_runs()
        if _BETWEEN_RUNS:
            log_event(logger, logging.INFO, "service.stopping", reason=_BETWEEN_RUNS[0])
            return 0
        service = EdgeService(config, data_dir, devices, config_path=config_path)
        status = asyncio.run(service.run())
        _catch_signals_between_runs()  # the loop gave SIGTERM back to its default: killing
        if config_path is None:
            if not service.restart_requested:
                return status
            continue  # the same configuration again
        if not service.restart_requested:
            failed = [f"the service stopped with status {status}"]
            if status == 0 or not rolled_back_after(data_dir, config_path, failed):
                return status
        try:
            config, devices = _load(config_path)
        except (ConfigError, DeviceConfigError) as error:
            if not rolled_back_after(data_dir, config_path, error.problems):
                log_event(logger, logging.ERROR, "service.failed", stage="restart",
                          reason=str(error)[:500])  # fmt: skip
                return 2
            try:
                config, devices = _load(config_path)
            except (ConfigError, DeviceConfigError) as again:
                log_event(logger, logging.ERROR, "service.failed", stage="restart",
                          reason=str(again)[:500])  # fmt: skip
                return 2
        log_event(logger, logging.INFO, "service.restarting", config=str(config_path))


# SIGTERM or SIGINT received while no service ran (a restart between two runs): the next run
# does not start, or stops at once.
_BETWEEN_RUNS: list[str] = []


def _note_signal(signum: int, _frame: object) -> None:
    _BETWEEN_RUNS.append(signal.Signals(signum).name)


def _catch_signals_between_runs() -> None:
    """Until the next run's loop takes them: a stop is noted, not the process killed."""
    if threading.current_thread() is threading.main_thread():
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, _note_signal)


def _load(config_path: Path) -> tuple[Config, list[DeviceConfig]]:
    config = load_config(config_path)
    return config, parse_devices(config.devices)
