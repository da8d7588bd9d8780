"""A client of the QEMU guest agent over the VM's virtio-serial port (a Unix socket on the
host): the harness's only way into the booted box, which listens on no network port.

Commands are JSON lines; `guest-sync` with a fresh id first drops any answer a timed-out
earlier command left in the socket, so each answer read is the one asked for."""

from __future__ import annotations

import base64
import itertools
import json
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


class GuestAgentError(RuntimeError):
    pass


@dataclass(frozen=True)
class Completed:
    exit_code: int
    stdout: str
    stderr: str

    def checked(self, command: str) -> str:
        if self.exit_code != 0:
            raise GuestAgentError(
                f"{command!r} exited {self.exit_code}: {self.stderr.strip() or self.stdout.strip()}"
            )
        return self.stdout


class GuestAgent:
    def __init__(self, socket_path: Path) -> None:
        self._path = socket_path
        self._sock: socket.socket | None = None
        self._buffer = b""
        self._ids = itertools.count(int(time.time()) % 100000 * 1000)

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None
            self._buffer = b""

    def ping(self, timeout: float = 3.0) -> bool:
        """True when the agent answers now (the guest is up far enough to run it)."""
        try:
            self._sync(timeout)
        except (OSError, GuestAgentError):
            self.close()
            return False
        return True

    def run(self, command: str, timeout: float = 60.0) -> Completed:
        """`sh -c command` in the guest as root, waited for up to `timeout` seconds."""
        pid = self.spawn(command)
        deadline = time.monotonic() + timeout
        pause = threading.Event()
        while True:
            status = self.command("guest-exec-status", {"pid": pid})
            if status.get("exited"):
                return Completed(
                    int(status.get("exitcode", -1)),
                    _decoded(status.get("out-data")),
                    _decoded(status.get("err-data")),
                )
            if time.monotonic() > deadline:
                raise GuestAgentError(f"{command!r} still running after {timeout:.0f} s")
            pause.wait(0.2)

    def spawn(self, command: str) -> int:
        """Starts `sh -c command` in the guest; its pid for guest-exec-status."""
        answer = self.command(
            "guest-exec",
            {"path": "/bin/sh", "arg": ["-c", command], "capture-output": True},
        )
        return int(answer["pid"])

    def command(self, name: str, arguments: dict[str, Any] | None = None) -> Any:
        self._sync(10.0)
        message: dict[str, Any] = {"execute": name}
        if arguments is not None:
            message["arguments"] = arguments
        reply = self._exchange(message, 30.0)
        if "error" in reply:
            raise GuestAgentError(f"{name}: {reply['error'].get('desc', reply['error'])}")
        return reply.get("return")

    def _sync(self, timeout: float) -> None:
        sync_id = next(self._ids)
        deadline = time.monotonic() + timeout
        self._send({"execute": "guest-sync", "arguments": {"id": sync_id}}, timeout)
        while True:  # answers to earlier, abandoned commands come first: skip them
            reply = self._read(max(0.1, deadline - time.monotonic()))
            if reply.get("return") == sync_id:
                return

    def _exchange(self, message: dict[str, Any], timeout: float) -> dict[str, Any]:
        self._send(message, timeout)
        return self._read(timeout)

    def _send(self, message: dict[str, Any], timeout: float) -> None:
        if self._sock is None:
            self._sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            self._sock.connect(str(self._path))
        self._sock.settimeout(timeout)
        self._sock.sendall(json.dumps(message).encode() + b"\n")

    def _read(self, timeout: float) -> dict[str, Any]:
        assert self._sock is not None
        deadline = time.monotonic() + timeout
        while b"\n" not in self._buffer:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise GuestAgentError("the guest agent did not answer in time")
            self._sock.settimeout(remaining)
            try:
                chunk = self._sock.recv(65536)
            except TimeoutError:
                raise GuestAgentError("the guest agent did not answer in time") from None
            if not chunk:
                raise GuestAgentError("the guest agent's socket closed")
            self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        reply: dict[str, Any] = json.loads(line.strip(b"\xff \r") or b"{}")
        return reply


def _decoded(data: str | None) -> str:
    return base64.b64decode(data).decode(errors="replace") if data else ""
