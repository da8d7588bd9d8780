"""A real pty pair standing in for a serial port. The driver opens `path`, a stable symlink (as
udev gives /dev/serial/by-id/...), and the emulator works the master side. Unplugging closes the
pty, so the driver's reads fail as on a pulled USB cable; replugging makes a new pty behind the
same path."""

from __future__ import annotations

import os
import select
import tty
from pathlib import Path


class PtyPort:
    def __init__(self, path: Path) -> None:
        self.path = path
        self._master: int | None = None
        self._slave: int | None = None

    @property
    def plugged(self) -> bool:
        return self._master is not None

    @property
    def device(self) -> str:
        """The /dev/pts/N behind the path, while plugged."""
        if self._slave is None:
            raise RuntimeError(f"{self.path} is unplugged")
        return os.ttyname(self._slave)

    def plug(self) -> None:
        if self.plugged:
            return
        master, slave = os.openpty()
        tty.setraw(slave)  # bytes pass as they are: no echo, no CR/LF translation
        self._master, self._slave = master, slave
        tmp = self.path.with_name(self.path.name + ".new")
        tmp.unlink(missing_ok=True)
        tmp.symlink_to(os.ttyname(slave))
        tmp.replace(self.path)  # atomic: the driver never sees a half-made link

    def unplug(self) -> None:
        for fd in (self._master, self._slave):
            if fd is not None:
                os.close(fd)
        self._master = self._slave = None
        self.path.unlink(missing_ok=True)

    def write(self, data: bytes) -> None:
        master = self._master  # one read of it: another thread may unplug meanwhile
        if master is None:
            raise RuntimeError(f"{self.path} is unplugged")
        view = memoryview(data)
        try:
            while view:
                written = os.write(master, view)
                view = view[written:]
        except OSError as error:  # unplugged during the write
            raise RuntimeError(f"{self.path} is unplugged") from error

    def read(self, timeout: float) -> bytes:
        """What the driver wrote to the device, waiting up to `timeout` for the first byte."""
        master = self._master
        if master is None:
            return b""
        try:
            ready, _, _ = select.select([master], [], [], timeout)
            return os.read(master, 4096) if ready else b""
        except (OSError, ValueError):  # the driver side is not open, or unplugged meanwhile
            return b""

    def close(self) -> None:
        self.unplug()

    def __enter__(self) -> PtyPort:
        self.plug()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
