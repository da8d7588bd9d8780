"""The box under QEMU: UEFI (OVMF, its code read-only, a writable copy of its variables), the
image as a virtio disk (a qcow2 overlay over the built image, so each test's writes are its
own), a virtio GPU for cage, user networking with one forwarded port, and the guest agent on
virtio-serial. KVM when it really runs a guest here, TCG otherwise.

Everything waits on a condition with a deadline; nothing sleeps for a fixed time."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from tests.image.guest_agent import Completed, GuestAgent, GuestAgentError

OVMF_CODE = Path("/usr/share/OVMF/OVMF_CODE_4M.fd")
OVMF_VARS = Path("/usr/share/OVMF/OVMF_VARS_4M.fd")
QEMU = "qemu-system-x86_64"
T = TypeVar("T")


class WaitTimeoutError(AssertionError):
    pass


def wait_until(
    condition: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0
) -> T:
    """Polls `condition` until it returns something truthy, at most `timeout` seconds."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise WaitTimeoutError(f"{what}: not within {timeout:.0f} s")
        pause.wait(interval)


def kvm_usable(work: Path) -> bool:
    """Whether KVM runs a guest here, not only whether /dev/kvm opens: a 64 KiB firmware whose
    reset vector runs an FPU instruction (what OVMF trips on under a broken nested KVM) and
    writes 'K' to the serial port."""
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        return False
    firmware = bytearray(b"\xff" * 65536)
    code = bytes.fromhex("dbe39bbaf803b04beef4ebfd")  # fninit; fwait; out 'K'
    firmware[0xFFF0 : 0xFFF0 + len(code)] = code
    probe = work / "kvm-probe.bin"
    probe.write_bytes(firmware)
    command = [QEMU, "-enable-kvm", "-nodefaults", "-display", "none", "-bios", str(probe),
               "-serial", "stdio"]  # fmt: skip
    with subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL) as qemu:
        assert qemu.stdout is not None
        answered = threading.Event()

        def read() -> None:
            assert qemu.stdout is not None
            if qemu.stdout.read(1) == b"K":
                answered.set()

        threading.Thread(target=read, daemon=True).start()
        answered.wait(10)
        qemu.kill()
    return answered.is_set()


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Machine:
    """One box: its disk overlay, firmware variables and sockets under `work`."""

    work: Path
    base_image: Path
    kvm: bool
    memory_mib: int = 2048
    forwarded_port: int = field(default_factory=free_port)
    guest_port: int = 8080
    process: subprocess.Popen[bytes] | None = None
    agent: GuestAgent | None = None
    started_at: float = 0.0
    extra_disks: list[tuple[str, Path]] = field(default_factory=list)  # (serial, raw image)
    boots: int = 0

    def __post_init__(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.disk = self.work / "disk.qcow2"
        self.vars = self.work / "OVMF_VARS.fd"
        subprocess.run(
            ["qemu-img", "create", "-q", "-f", "qcow2", "-F", "raw", "-b",
             str(self.base_image.resolve()), str(self.disk)],
            check=True,
        )  # fmt: skip
        shutil.copyfile(OVMF_VARS, self.vars)

    @property
    def serial_log(self) -> Path:
        return self.work / f"serial-{self.boots}.log"

    def start(self) -> None:
        assert self.process is None, "already running"
        self.boots += 1
        qga = self.work / "qga.sock"
        qga.unlink(missing_ok=True)
        accel = ["-enable-kvm", "-cpu", "host"] if self.kvm else ["-accel", "tcg,thread=multi",
                                                                  "-cpu", "max"]  # fmt: skip
        command = [
            QEMU, *accel, "-machine", "q35", "-smp", "2", "-m", str(self.memory_mib),
            "-nodefaults", "-display", "none", "-no-user-config",
            "-drive", f"if=pflash,format=raw,readonly=on,file={OVMF_CODE}",
            "-drive", f"if=pflash,format=raw,file={self.vars}",
            "-drive", f"file={self.disk},format=qcow2,if=virtio",
            *self._extra_disk_options(),
            "-device", "virtio-gpu-pci",
            "-netdev", f"user,id=net0,hostfwd=tcp:127.0.0.1:{self.forwarded_port}-:{self.guest_port}",
            "-device", "virtio-net-pci,netdev=net0",
            "-chardev", f"socket,id=qga0,path={qga},server=on,wait=off",
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=qga0,name=org.qemu.guest_agent.0",
            "-serial", f"file:{self.serial_log}",
            "-rtc", "base=utc",
        ]  # fmt: skip
        self.started_at = time.monotonic()
        with (self.work / f"qemu-{self.boots}.log").open("wb") as log:
            self.process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=log)
        wait_until(qga.exists, 30, "QEMU's guest-agent socket", interval=0.1)
        self.agent = GuestAgent(qga)

    def _extra_disk_options(self) -> list[str]:
        """Read-only disks the guest sees as /dev/disk/by-id/virtio-SERIAL (a USB stick's role)."""
        options: list[str] = []
        for number, (serial, path) in enumerate(self.extra_disks):
            options += ["-drive", f"file={path},format=raw,if=none,id=extra{number},readonly=on",
                        "-device", f"virtio-blk-pci,drive=extra{number},serial={serial}"]  # fmt: skip
        return options

    def wait_for_agent(self, timeout: float) -> float:
        """Seconds from start until the guest agent answered (the box is booted)."""
        agent = self._agent()

        def answered() -> bool:
            self._check_running()
            return agent.ping(2.0)

        wait_until(answered, timeout, f"guest agent (serial log {self.serial_log})")
        return time.monotonic() - self.started_at

    def run(self, command: str, timeout: float = 120.0) -> Completed:
        return self._agent().run(command, timeout)

    def run_if_up(self, command: str, timeout: float = 60.0) -> Completed | None:
        """`run`, or None when the guest is not answering (down, or going down meanwhile):
        for conditions polled across a reboot the guest makes by itself."""
        self._check_running()
        try:
            return self._agent().run(command, timeout)
        except (GuestAgentError, OSError):
            self._agent().close()
            return None

    def check(self, command: str, timeout: float = 120.0) -> str:
        return self.run(command, timeout).checked(command)

    def power_cut(self) -> None:
        """Power off without warning: SIGKILL to QEMU (what the disk had not flushed is lost,
        as on a real power cut: the qcow2 overlay runs with QEMU's writeback cache)."""
        self.shutdown_hard()

    def boot_id(self) -> str | None:
        """The running boot's id, or None while the guest agent does not answer."""
        done = self.run_if_up("cat /proc/sys/kernel/random/boot_id", 10.0)
        return done.stdout.strip() or None if done is not None else None

    def reboot(self, timeout: float) -> None:
        """`systemctl reboot` in the guest (QEMU resets the same machine), and waits for the next
        boot's guest agent."""
        before = self.boot_id()
        self._agent().spawn("systemctl reboot")
        self.wait_for_new_boot(before, timeout)

    def wait_for_new_boot(self, before: str | None, timeout: float) -> str:
        self.started_at = time.monotonic()  # the reset, near enough: the old boot's shutdown

        def new_boot() -> str | None:
            current = self.boot_id()
            return current if current not in (None, before) else None

        return wait_until(new_boot, timeout, f"a new boot (serial log {self.serial_log})")

    def shutdown_hard(self) -> None:
        if self.process is not None:
            self.process.kill()
            self.process.wait()
        if self.agent is not None:
            self.agent.close()
        self.agent = None
        self.process = None

    def serial_text(self) -> str:
        return self.serial_log.read_text(errors="replace") if self.serial_log.exists() else ""

    def _agent(self) -> GuestAgent:
        assert self.agent is not None, "not started"
        return self.agent

    def _running(self) -> subprocess.Popen[bytes]:
        assert self.process is not None, "not started"
        return self.process

    def _check_running(self) -> None:
        process = self._running()
        if process.poll() is not None:
            log = (self.work / f"qemu-{self.boots}.log").read_text(errors="replace")
            raise AssertionError(f"QEMU exited {process.returncode}: {log[-2000:]}")
