"""`carec-edge` commands as real processes, with their log lines on a queue to await events on."""

from __future__ import annotations

import os
import queue
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Self

REPO = Path(__file__).resolve().parents[2]


class CarecProcess:
    """`python -m edge.cli --data-dir DATA [--config FILE] ARGS...`, its stderr read as it comes."""

    def __init__(
        self,
        data_dir: Path,
        *args: str,
        config: Path | None = None,
        env: Mapping[str, str] | None = None,
    ) -> None:
        environ = os.environ | {"PYTHONPATH": str(REPO)} | dict(env or {})
        for name in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "JOURNAL_STREAM", "INVOCATION_ID"):
            environ.pop(name, None)
        options = ["--config", str(config)] if config else []
        self.process = subprocess.Popen(
            [sys.executable, "-m", "edge.cli", *options, "--data-dir", str(data_dir), *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=environ,
        )  # fmt: skip
        self.lines: queue.Queue[str] = queue.Queue()
        self.log: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        for line in self.process.stderr:
            self.log.append(line)
            self.lines.put(line)

    def wait_log(self, *words: str, timeout: float = 30.0) -> str:
        """The next log line holding every word; fails with the log when none comes in time."""
        deadline = time.monotonic() + timeout
        while True:
            line = self._next_line(deadline, words)
            if all(word in line for word in words):
                return line

    def wait_logs(self, *lines: tuple[str, ...], timeout: float = 30.0) -> None:
        """Until a log line has come for each of `lines` (the words of one line), in any order."""
        deadline = time.monotonic() + timeout
        waiting = list(lines)
        while waiting:
            line = self._next_line(deadline, waiting)
            waiting = [words for words in waiting if not all(word in line for word in words)]

    def _next_line(self, deadline: float, wanted: object) -> str:
        while (left := deadline - time.monotonic()) > 0:
            try:
                return self.lines.get(timeout=min(left, 0.5))
            except queue.Empty:
                if self.process.poll() is not None:
                    break
        tail = "".join(self.log[-40:])
        raise AssertionError(f"no log line with {wanted} in time:\n{tail}")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=60)

    def whole_log(self, timeout: float = 60.0) -> str:
        """Every line the process wrote, to the end of its stderr: after `stop()`, the reader
        may still be taking in the last lines (shutdown's) when the process is gone."""
        self._reader.join(timeout)
        if self._reader.is_alive():
            raise AssertionError(f"the process's stderr did not end within {timeout} s")
        return "".join(self.log)

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: type[BaseException] | BaseException | TracebackType | None) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


class ServiceProcess(CarecProcess):
    """`carec-edge --config FILE --data-dir DATA run`."""

    def __init__(self, config: Path, data_dir: Path, env: Mapping[str, str] | None = None) -> None:
        super().__init__(data_dir, "run", config=config, env=env)
