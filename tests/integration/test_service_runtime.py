"""`carec-edge run` as systemd runs it: a real process, a real notify socket, real signals."""

from __future__ import annotations

import copy
import datetime as dt
import os
import queue
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.timeutil import utcnow
from tests.fixtures.records import CONTRACT_EXAMPLE

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT = 30.0
STOP_TIMEOUT = 60.0
EVENT_TIMEOUT = 60.0  # a bound on waits for what takes milliseconds, on a loaded box


class NotifySocket:
    """The AF_UNIX datagram socket systemd listens on for sd_notify, bound by the test."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(str(path))
        self.received: list[str] = []

    def wait_for(
        self,
        state: str,
        timeout: float,
        after: int = 0,
        sender: subprocess.Popen[str] | None = None,
    ) -> int:
        """Receive until `state` (e.g. `READY=1`) arrives at position `after` or later; its
        position among everything received. Gives up early if `sender` exits."""
        deadline = time.monotonic() + timeout
        while True:
            for position in range(after, len(self.received)):
                if self.received[position] == state:
                    return position
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"no {state} within {timeout}s; got {self.received}")
            if sender is not None and sender.poll() is not None:
                _, stderr = sender.communicate()
                raise AssertionError(
                    f"no {state}: the service exited with {sender.returncode}:\n{stderr}"
                )
            self.sock.settimeout(min(remaining, 0.5))
            try:
                datagram = self.sock.recv(4096)
            except TimeoutError:
                continue
            self.received.extend(datagram.decode().splitlines())

    def drain(self) -> list[str]:
        """Everything still waiting in the socket (call it once the sender is gone)."""
        self.sock.setblocking(False)
        try:
            while True:
                self.received.extend(self.sock.recv(4096).decode().splitlines())
        except BlockingIOError:
            return self.received
        finally:
            self.sock.setblocking(True)

    def close(self) -> None:
        self.sock.close()


class StderrLines:
    """The lines a process writes to stderr, read as they come by a thread of their own."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        assert process.stderr is not None
        self._stream = process.stderr
        self._queue: queue.Queue[str] = queue.Queue()
        self.seen: list[str] = []
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self._stream:
            self._queue.put(line)

    def wait_for(self, text: str, timeout: float) -> str:
        """The first line (since the last match) that contains `text`."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no {text!r} within {timeout}s; got {self.seen}") from None
            self.seen.append(line)
            if text in line:
                return line


@pytest.fixture
def notify_socket() -> Iterator[NotifySocket]:
    # A short directory of its own: socket paths are limited to 107 bytes.
    with tempfile.TemporaryDirectory(prefix="carec-notify-") as directory:
        listener = NotifySocket(Path(directory) / "notify")
        yield listener
        listener.close()


@pytest.fixture
def processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Every service the test starts, killed at the end if the test left it running."""
    started: list[subprocess.Popen[str]] = []
    yield started
    for process in started:
        if process.poll() is None:
            process.kill()
            process.communicate(timeout=STOP_TIMEOUT)


def write_config(tmp_path: Path, retention_days: int = 30) -> Path:
    path = tmp_path / "carec-edge.toml"
    path.write_text(
        f"[store]\nretention_days = {retention_days}\n\n[kiosk]\nenabled = false\n",
        encoding="utf-8",
    )
    return path


def start_service(
    processes: list[subprocess.Popen[str]],
    data_dir: Path,
    config: Path,
    notify: NotifySocket | None = None,
    watchdog_usec: int | None = None,
    faults: str | None = None,
) -> subprocess.Popen[str]:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in ("JOURNAL_STREAM", "INVOCATION_ID", "NOTIFY_SOCKET")
        and not key.startswith("WATCHDOG_")
    }
    env["PYTHONPATH"] = str(REPO)
    if notify is not None:
        env["NOTIFY_SOCKET"] = str(notify.path)
    if watchdog_usec is not None:
        env["WATCHDOG_USEC"] = str(watchdog_usec)
    if faults is not None:
        env["CAREC_EDGE_FAULTS"] = faults  # test-only fault points (edge.faults)
    options = ["--config", str(config), "--data-dir", str(data_dir)]
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", *options, "run"],
        env=env,
        cwd=REPO,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    processes.append(process)
    return process


def stop(process: subprocess.Popen[str], sig: signal.Signals) -> tuple[int, str]:
    process.send_signal(sig)
    _, stderr = process.communicate(timeout=STOP_TIMEOUT)
    return process.returncode, stderr


def manifest_expected(ref: str, expected_arrival: dt.datetime) -> dict[str, object]:
    record = copy.deepcopy(CONTRACT_EXAMPLE)
    record["ref"] = ref
    record["expected_arrival"] = expected_arrival.strftime("%Y-%m-%dT%H:%M:%SZ")
    return record


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_service_is_ready_pets_the_watchdog_and_stops_cleanly(
    tmp_path: Path,
    notify_socket: NotifySocket,
    processes: list[subprocess.Popen[str]],
    sig: signal.Signals,
) -> None:
    service = start_service(
        processes, tmp_path / "data", write_config(tmp_path), notify_socket, watchdog_usec=200_000
    )

    ready = notify_socket.wait_for("READY=1", START_TIMEOUT, sender=service)
    first_pet = notify_socket.wait_for("WATCHDOG=1", EVENT_TIMEOUT, after=ready)
    notify_socket.wait_for("WATCHDOG=1", EVENT_TIMEOUT, after=first_pet + 1)
    assert service.poll() is None

    status, stderr = stop(service, sig)
    notify_socket.wait_for("STOPPING=1", EVENT_TIMEOUT, after=ready)
    assert status == 0, stderr
    assert f"service.stopping reason={sig.name}" in stderr
    assert "service.stopped" in stderr


def test_a_stuck_store_thread_stops_the_watchdog_pets(
    tmp_path: Path, notify_socket: NotifySocket, processes: list[subprocess.Popen[str]]
) -> None:
    """Once ready, the second round trip through the store thread never comes back (the fault
    point blocks that thread for good): the service pets after the first, says why it withholds
    the pet, and never pets again, so systemd would restart it.

    The interval is generous (5 s) so that a slow probe under load is not taken for the hang,
    and the test waits on the order of events, not on their timing: a slow first probe may
    withhold once before its pet, but the withhold after that pet is the hang's."""
    service = start_service(
        processes, tmp_path / "data", write_config(tmp_path), notify_socket,
        watchdog_usec=10_000_000, faults="service.store_probe=hang@2",
    )  # fmt: skip

    ready = notify_socket.wait_for("READY=1", START_TIMEOUT, sender=service)
    answered = notify_socket.wait_for("WATCHDOG=1", START_TIMEOUT, after=ready, sender=service)
    withheld = notify_socket.wait_for(
        "STATUS=watchdog withheld: the store thread has not answered for 5 s",
        START_TIMEOUT,
        after=answered,
        sender=service,
    )
    service.kill()
    _, stderr = service.communicate(timeout=STOP_TIMEOUT)
    received = notify_socket.drain()

    after_hang = received[withheld + 1 :]
    assert "WATCHDOG=1" not in after_hang, received
    assert "STATUS=running" not in after_hang, received  # never resumed
    assert "watchdog.withheld" in stderr


def test_service_purges_manifests_older_than_the_retention_at_start(
    tmp_path: Path, notify_socket: NotifySocket, processes: list[subprocess.Popen[str]]
) -> None:
    data_dir = tmp_path / "data"
    now = utcnow()
    engine = open_database(data_dir)
    ManifestCache(engine).upsert(
        [
            parse_manifest(manifest_expected("26KZ-EXPIRED", now - dt.timedelta(days=31))),
            parse_manifest(manifest_expected("26KZ-RECENT", now - dt.timedelta(days=29))),
            parse_manifest(manifest_expected("26KZ-COMING", now + dt.timedelta(hours=6))),
        ]
    )

    service = start_service(
        processes, data_dir, write_config(tmp_path, retention_days=30), notify_socket
    )
    notify_socket.wait_for("READY=1", START_TIMEOUT, sender=service)

    cache = ManifestCache(engine)
    assert sorted(stored.record.ref for stored in cache.iter_all()) == [
        "26KZ-COMING",
        "26KZ-RECENT",
    ]
    assert "STATUS=ready, 2 manifests cached" in notify_socket.received
    engine.dispose()

    status, stderr = stop(service, signal.SIGTERM)
    assert status == 0, stderr
    assert "purge.done purged=1 " in stderr


def test_service_off_systemd_logs_to_stderr_and_stops_on_sigterm(
    tmp_path: Path, processes: list[subprocess.Popen[str]]
) -> None:
    service = start_service(processes, tmp_path / "data", write_config(tmp_path))
    lines = StderrLines(service)
    lines.wait_for(" INFO edge.service service.ready ", START_TIMEOUT)

    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=STOP_TIMEOUT) == 0
    lines.wait_for(" INFO edge.service service.stopped", STOP_TIMEOUT)


def test_service_that_cannot_open_its_store_fails_without_being_ready(
    tmp_path: Path, notify_socket: NotifySocket, processes: list[subprocess.Popen[str]]
) -> None:
    not_a_directory = tmp_path / "data"
    not_a_directory.write_text("a file where the store should be\n", encoding="utf-8")

    service = start_service(processes, not_a_directory, write_config(tmp_path), notify_socket)
    _, stderr = service.communicate(timeout=START_TIMEOUT)

    assert service.returncode == 1, stderr
    assert "service.failed stage=start" in stderr
    assert f"cannot open the store in {not_a_directory}" in stderr
    assert "Traceback" not in stderr, stderr
    notify_socket.wait_for("STOPPING=1", EVENT_TIMEOUT)
    assert "READY=1" not in notify_socket.received
