"""A real Debian mosquitto for tests and the demo, on free loopback ports, with its own files.

    with MosquittoBroker(config, tmp_path / "broker") as broker:
        client.connect("127.0.0.1", broker.port)
        broker.kill()       # kill -9: what was not autosaved is gone
        broker.restart()    # same config, ports and persistence directory

A listener port of 0 in the config means "pick a free one"; the choice is kept across restarts.
Every broker still running when the interpreter exits is killed.
"""

from __future__ import annotations

import atexit
import os
import pwd
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path
from types import TracebackType

from sync.broker_config import BrokerConfig, BrokerFiles, render

MOSQUITTO = Path("/usr/sbin/mosquitto")
READY_WORDS = ("mosquitto version", "running")
PORT_ATTEMPTS = 5

# Every mosquitto started here and not yet seen to end, for the atexit handler to kill.
_started: set[subprocess.Popen[str]] = set()


class BrokerError(RuntimeError):
    """The broker would not start or stop; the message ends with its last log lines."""


def free_port(host: str = "127.0.0.1") -> int:
    """A port nothing listens on right now (another process may still take it before us)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


class MosquittoBroker:
    def __init__(
        self,
        config: BrokerConfig,
        directory: Path,
        executable: Path = MOSQUITTO,
        start_timeout: float = 10.0,
    ) -> None:
        self.directory = directory
        self.executable = executable
        self.start_timeout = start_timeout
        self._wanted = config
        self._config = config
        self._process: subprocess.Popen[str] | None = None
        self._lines: list[str] = []  # this run's log, from its stderr
        self._log_changed = threading.Condition()
        self._files: BrokerFiles | None = None

    @property
    def config(self) -> BrokerConfig:
        """The config as running, with the ports chosen."""
        return self._config

    @property
    def host(self) -> str:
        return self._config.tls.host

    @property
    def port(self) -> int:
        """The TLS listener's port."""
        return self._config.tls.port

    @property
    def plain_port(self) -> int | None:
        return self._config.plain.port if self._config.plain else None

    @property
    def files(self) -> BrokerFiles:
        if self._files is None:
            raise BrokerError("the broker has not been started")
        return self._files

    @property
    def pid(self) -> int | None:
        return self._process.pid if self.running and self._process else None

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def start(self) -> MosquittoBroker:
        """Start the broker and return once it accepts connections. Ports of 0 in the config are
        chosen on the first start (again if one is taken before mosquitto binds it) and kept."""
        if self.running:
            raise BrokerError("the broker is already running")
        if self._files is not None:
            try:
                self._launch()
            except _PortTakenError:
                raise BrokerError(f"port taken since the last start:\n{self._tail()}") from None
            return self
        for _ in range(PORT_ATTEMPTS):
            self._config = self._with_ports(self._wanted)
            try:
                self._launch()
                return self
            except _PortTakenError:
                continue
        raise BrokerError(f"no free port after {PORT_ATTEMPTS} attempts:\n{self._tail()}")

    def restart(self) -> None:
        """Stop the broker if it runs (cleanly, so it saves), and start it again with the same
        config, ports and persistence."""
        if self.running:
            self.stop()
        self.start()

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM: mosquitto saves its state to disk and exits. Returns its exit status."""
        process = self._process
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        try:
            return process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
            raise BrokerError(
                f"mosquitto ignored SIGTERM for {timeout}s:\n{self._tail()}"
            ) from None

    def kill(self) -> None:
        """SIGKILL, as a crash or power cut: nothing is saved past the last autosave."""
        process = self._process
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()

    def save(self) -> None:
        """SIGUSR1: ask mosquitto to write its state to disk now (it does so asynchronously)."""
        if self._process is not None and self._process.poll() is None:
            self._process.send_signal(signal.SIGUSR1)

    def wait_for_log(self, *words: str, timeout: float = 10.0) -> str:
        """The first line of this run's log holding every word, waiting up to `timeout` s."""
        deadline = time.monotonic() + timeout
        with self._log_changed:
            while True:
                for line in self._lines:
                    if all(word in line for word in words):
                        return line
                left = deadline - time.monotonic()
                if left <= 0:
                    raise BrokerError(f"no log line with {words} in {timeout}s:\n{self._tail()}")
                self._log_changed.wait(left)

    def log_text(self) -> str:
        """The broker's log file, across restarts."""
        try:
            return self.files.log.read_text(encoding="utf-8", errors="replace")
        except (OSError, BrokerError):
            return ""

    def __enter__(self) -> MosquittoBroker:
        if not self.running:
            self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    def _with_ports(self, config: BrokerConfig) -> BrokerConfig:
        tls = config.tls
        if tls.port == 0:
            tls = tls.model_copy(update={"port": free_port(tls.host)})
        plain = config.plain
        if plain is not None and plain.port == 0:
            plain = plain.model_copy(update={"port": free_port(plain.host)})
        return config.model_copy(
            update={
                "tls": tls,
                "plain": plain,
                "log_to_stderr": True,
                "run_as_user": config.run_as_user or pwd.getpwuid(os.geteuid()).pw_name,
            }
        )

    def _launch(self) -> None:
        self._files = render(self._config, self.directory)
        with self._log_changed:
            self._lines = []
        ready = threading.Event()
        seen_running: list[bool] = []
        self._process = subprocess.Popen(
            [str(self.executable), "-c", str(self._files.conf)],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            errors="replace",
            env=os.environ | {"TZ": "UTC"},
        )
        _started.add(self._process)
        threading.Thread(
            target=self._read_log,
            args=(self._process, ready, seen_running),
            name="mosquitto-log",
            daemon=True,
        ).start()
        in_time = ready.wait(self.start_timeout)
        if seen_running and self.running:
            return
        self.kill()
        if any("Address already in use" in line for line in self._lines):
            raise _PortTakenError
        reason = "exited" if in_time else f"was not ready in {self.start_timeout}s"
        raise BrokerError(f"mosquitto {reason}:\n{self._tail()}")

    def _read_log(
        self, process: subprocess.Popen[str], ready: threading.Event, seen_running: list[bool]
    ) -> None:
        assert process.stderr is not None
        lines = self._lines
        for line in process.stderr:
            with self._log_changed:
                lines.append(line)
                self._log_changed.notify_all()
            if all(word in line for word in READY_WORDS):
                seen_running.append(True)
                ready.set()
        process.stderr.close()
        # The broker exited (or was killed): reap it, then wake a start() still waiting.
        process.wait()
        _started.discard(process)
        ready.set()

    def _tail(self) -> str:
        return "".join(self._lines[-40:]) or self.log_text()[-4000:]


class _PortTakenError(Exception):
    pass


@atexit.register
def _kill_all() -> None:
    for process in list(_started):
        if process.poll() is None:
            process.kill()
            process.wait()
