"""Plate recognition in its own process: the service hands frames over and gets results back,
and its event loop never runs a model. One frame is read at a time; while the worker is busy,
newer frames replace waiting ones (the trigger hands the newest view of the vehicle), so it
keeps up with the camera instead of falling behind it.

A frame the recogniser cannot take is answered with its error and counted. A worker that dies
(a crash in native code, the OOM killer) or takes longer than the deadline on one frame (a hang
in native code) is ended and restarted, counted and logged with the reason; the frame it held is
answered as lost and its health reads degraded until it has read a frame again. A model file
that is missing (the project's reader: PP-OCR alone reads on) leaves the health degraded, with
the file named, never `connected`."""

from __future__ import annotations

import itertools
import logging
import multiprocessing as mp
import queue
import signal
import threading
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from multiprocessing.process import BaseProcess
from typing import Any

import numpy as np
import numpy.typing as npt

from drivers.backoff import Backoff
from drivers.plates.onnx_models import OWN_MODELS
from drivers.plates.recognizer import FrameResult, PlateRecognizer, RecognizerSettings
from edge import faults
from edge.readings import Health

logger = logging.getLogger(__name__)

Job = tuple[int, Any, npt.NDArray[np.uint8]]  # (job id, the caller's tag, BGR frame)
ResultCallback = Callable[[Any, FrameResult | None, str | None], None]  # tag, result, error
_READY = -1  # a "job id" the worker sends once its models are loaded
# A frame takes well under a second on the box; ten times that is a hang, not a slow frame.
FRAME_DEADLINE_S = 10.0


@dataclass
class WorkerStats:
    submitted: int = 0
    read: int = 0
    replaced: int = 0  # frames superseded by a newer one while the worker was busy
    failed: int = 0  # frames the recogniser refused (corrupt, wrong shape)
    lost: int = 0  # frames held by a worker that died or hung
    hung: int = 0  # frames the worker did not finish within the deadline (it was restarted)
    restarts: int = 0
    last_error: str = ""
    read_ms: list[float] = field(default_factory=list)  # the last 100 frames


class PlateWorker:
    """A supervised recognition process. `submit` never blocks; results arrive on a thread of
    this object through `on_result(tag, result, error)`."""

    def __init__(
        self,
        on_result: ResultCallback,
        settings: RecognizerSettings | None = None,
        on_health: Callable[[Health, str], None] | None = None,
        frame_deadline_s: float = FRAME_DEADLINE_S,
    ) -> None:
        self.on_result = on_result
        self.frame_deadline_s = frame_deadline_s
        self.models_missing = ""  # why the worker reads with fewer models than configured
        self.on_health = on_health
        self.settings = settings or RecognizerSettings()
        self.stats = WorkerStats()
        self.health = Health.DISCONNECTED
        self._context = mp.get_context("spawn")  # never fork a process that runs threads
        self._lock = threading.Lock()
        self._waiting: Job | None = None  # the newest frame not yet handed to the worker
        self._busy: Job | None = None  # the frame the worker is reading
        self._wake = threading.Condition(self._lock)
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._process: BaseProcess | None = None
        self._supervisor: threading.Thread | None = None
        self.ready = threading.Event()

    # -- the caller's side ---------------------------------------------------------------------

    def start(self) -> None:
        self._supervisor = threading.Thread(target=self._supervise, name="plates", daemon=True)
        self._supervisor.start()

    def submit(self, frame: npt.NDArray[np.uint8], tag: Any = None) -> None:
        with self._wake:
            self.stats.submitted += 1
            if self._waiting is not None:
                self.stats.replaced += 1
            self._waiting = (next(self._ids), tag, frame)
            self._wake.notify()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        with self._wake:
            self._wake.notify()
        if self._supervisor is not None:
            self._supervisor.join(timeout)
        self._end_process()

    @property
    def pid(self) -> int | None:
        return self._process.pid if self._process is not None else None

    def idle(self) -> bool:
        with self._lock:
            return self._waiting is None and self._busy is None

    # -- supervision ---------------------------------------------------------------------------

    def _supervise(self) -> None:
        backoff = Backoff(initial_s=0.5, cap_s=10.0)
        while not self._stop.is_set():
            self.ready.clear()
            jobs: Any = self._context.Queue()
            results: Any = self._context.Queue()
            self._process = self._context.Process(
                target=serve, args=(jobs, results, self.settings), name="carec-plates", daemon=True
            )
            self._process.start()
            why = self._feed(jobs, results)
            self._end_process()
            for channel in (jobs, results):
                # A frame still in the pipe of a dead worker is lost (and was reported so);
                # without this, its feeder thread would hold the service at exit forever.
                channel.cancel_join_thread()
                channel.close()
            if self._stop.is_set():
                break
            self.stats.restarts += 1
            self.stats.last_error = why
            self._set_health(Health.DEGRADED, f"recogniser restarted: {why}")
            logger.warning("plate worker restarted: %s", why)
            self._stop.wait(backoff.next_delay())
        self._set_health(Health.DISCONNECTED, "stopped")

    def _feed(self, jobs: Any, results: Any) -> str:
        """Hand frames to the worker one at a time until it dies or we stop; why it ended."""
        process = self._process
        assert process is not None
        if not self._await(results, process):
            return self.stats.last_error or f"the worker exited with {process.exitcode}"
        self.ready.set()
        if self.models_missing:
            self._set_health(Health.DEGRADED, self.models_missing)
        elif self.health is not Health.DEGRADED:
            self._set_health(Health.CONNECTED, "models loaded")
        while not self._stop.is_set():
            with self._wake:
                while self._waiting is None and not self._stop.is_set():
                    self._wake.wait(0.5)
                    if not process.is_alive():
                        return f"the worker exited with {process.exitcode}"
                if self._stop.is_set():
                    return "stopped"
                self._busy, self._waiting = self._waiting, None
            job = self._busy
            assert job is not None
            jobs.put(job)
            deadline = time.monotonic() + self.frame_deadline_s
            if not self._await(results, process, deadline):
                with self._lock:
                    self._busy = None
                self.stats.lost += 1
                if self._stop.is_set():
                    return "stopped"
                if process.is_alive():  # past the deadline: a hang, ended by the restart
                    self.stats.hung += 1
                    why = f"a frame took longer than the {self.frame_deadline_s:g} s deadline"
                    self.on_result(job[1], None, f"the recogniser hung on this frame ({why})")
                    return why
                self.on_result(job[1], None, "the recogniser crashed while reading this frame")
                return f"the worker died reading a frame (exit {process.exitcode})"
        return "stopped"

    def _await(self, results: Any, process: BaseProcess, deadline: float | None = None) -> bool:
        """Wait for the worker's next message; False when it died, we stop, or `deadline`
        (time.monotonic) passes first."""
        while True:
            try:
                job_id, tag, result, error, elapsed_ms = results.get(timeout=0.5)
            except queue.Empty:
                if not process.is_alive():
                    return False
                if self._stop.is_set():
                    return False
                if deadline is not None and time.monotonic() > deadline:
                    return False
                continue
            if job_id == _READY:
                if error:
                    self.stats.last_error = error
                    return False
                self.models_missing = result or ""
                if self.models_missing:
                    logger.warning("plate worker degraded: %s", self.models_missing)
                return True
            with self._lock:
                self._busy = None
            if error is None:
                self.stats.read += 1
                self.stats.read_ms = [*self.stats.read_ms[-99:], elapsed_ms]
                if self.health is Health.DEGRADED and not self.models_missing:
                    self._set_health(Health.CONNECTED, "reading again")
            else:
                self.stats.failed += 1
                self.stats.last_error = error
            self.on_result(tag, result, error)
            return True

    def _end_process(self) -> None:
        process = self._process
        if process is None:
            return
        if process.is_alive():
            process.terminate()
            process.join(3)
        if process.is_alive():
            process.kill()
            process.join(3)
        self._process = None

    def _set_health(self, health: Health, why: str) -> None:
        self.health = health
        if self.on_health is not None:
            self.on_health(health, why)


def serve(jobs: Any, results: Any, settings: RecognizerSettings) -> None:
    """The worker process: load the models once, then read frames until told to stop."""
    # A terminal's Ctrl-C reaches the whole process group; the supervising service stops us
    # itself, so the signal would only print a KeyboardInterrupt traceback into its log.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        recognizer = PlateRecognizer(settings)
    except Exception as error:  # reported to the supervisor, which restarts us
        results.put((_READY, None, None, f"cannot load the recogniser: {error}", 0.0))
        return
    results.put((_READY, None, _models_missing(recognizer, settings), None, 0.0))
    while True:
        job_id, tag, frame = jobs.get()
        started = time.perf_counter()
        result: FrameResult | None = None
        problem: str | None = None
        try:
            faults.reached("plates.frame", nth=job_id)
            result = recognizer.read(frame)
        except Exception as failure:  # one bad frame must not end the worker
            problem = f"{type(failure).__name__}: {failure}"
            logger.debug("frame %s failed: %s", job_id, traceback.format_exc())
        results.put((job_id, tag, result, problem, (time.perf_counter() - started) * 1000))


def _models_missing(recognizer: PlateRecognizer, settings: RecognizerSettings) -> str:
    """Why the recogniser reads with less than it was configured with ("" when it has all)."""
    if settings.use_own_reader and recognizer.own is None:
        where = settings.reader_models or OWN_MODELS
        return f"the plate reader model is missing from {where}; PP-OCR alone reads plates"
    return ""
