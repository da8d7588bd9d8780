"""A box's update parts on the host, real ones: a slot image (squashfs with its dm-verity hash
tree appended, made by mksquashfs and veritysetup on files), the country CA and update signer,
and RAUC's own service on a private D-Bus system bus with a directory standing in for the ESP.
Debian's rauc 1.8 runs `install` and `status` through that service."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from provisioning.identity.ca import init_ca
from provisioning.update.signer import SIGNER_CERT, SIGNER_KEY, issue_signer_files

REPO = Path(__file__).resolve().parents[3]
HOOK = REPO / "image" / "rauc" / "hooks" / "post-install"
BACKEND = REPO / "image" / "rauc" / "bootloader-backend"
PYTHON = REPO / ".venv" / "bin" / "python"
CAREC_EDGE = REPO / ".venv" / "bin" / "carec-edge"

_BUS_CONF = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/><allow own="*"/><allow send_destination="*"/><allow receive_sender="*"/>
  </policy>
</busconfig>
"""


@dataclass(frozen=True)
class SlotImage:
    rootfs: Path  # what RAUC writes to a slot partition
    verity_json: Path
    version: str
    kernel: bytes


@dataclass(frozen=True)
class Keys:
    ca: Path  # the CA's directory (ca.key, ca.crt)
    keyring: Path  # ca.crt
    cert: Path
    key: Path


def make_slot_image(directory: Path, version: str) -> SlotImage:
    """A root of a few files (os-release, a kernel and initrd) as the image build makes one."""
    root = directory / f"root-{version}"
    (root / "usr/lib").mkdir(parents=True)
    (root / "boot").mkdir()
    (root / "usr/lib/os-release").write_text(f"ID=debian\nIMAGE_VERSION={version}\n")
    kernel = f"kernel of {version}\n".encode() + os.urandom(32)
    (root / "boot/vmlinuz-6.1.0-28-amd64").write_bytes(kernel)
    (root / "boot/initrd.img-6.1.0-28-amd64").write_bytes(b"initrd of " + version.encode())
    (root / "usr/lib/filler").write_bytes(os.urandom(40_000))  # RAUC wants more than 4 KiB
    squashfs = directory / f"root-{version}.squashfs"
    _run(["mksquashfs", str(root), str(squashfs), "-quiet", "-noappend", "-all-root"])
    offset = -(-squashfs.stat().st_size // 4096) * 4096
    rootfs = directory / f"rootfs-{version}.img"
    shutil.copyfile(squashfs, rootfs)
    os.truncate(rootfs, offset)
    hash_tree = [f"--hash-offset={offset}", f"--data-blocks={offset // 4096}"]
    output = _run(["veritysetup", "format", *hash_tree, str(rootfs), str(rootfs)])
    root_hash = next(
        line.split(":", 1)[1].strip()
        for line in output.splitlines()
        if line.startswith("Root hash")
    )
    verity_json = directory / f"rootfs-{version}.verity.json"
    verity_json.write_text(
        json.dumps({"root_hash": root_hash, "hash_offset": offset, "data_size": offset})
    )
    return SlotImage(rootfs, verity_json, version, kernel)


def make_keys(directory: Path, country: str = "KZ") -> Keys:
    ca = directory / "ca"
    init_ca(country, ca)
    issue_signer_files(ca, directory)
    return Keys(ca, ca / "ca.crt", directory / SIGNER_CERT, directory / SIGNER_KEY)


def system_conf(directory: Path, keyring: Path, *, bundle_formats: str = "verity") -> Path:
    """The box's image/rauc/system.conf with the test's paths: slots are files, the backend is
    image/rauc/bootloader-backend on `directory`/esp."""
    text = (REPO / "image/rauc/system.conf").read_text()
    replacements = {
        "/etc/rauc/keyring.pem": str(keyring),
        "/data/rauc": str(directory / "data"),
        "/usr/lib/carec-edge/rauc/bootloader-backend": str(BACKEND),
        "/dev/disk/by-partlabel/carec-root-a": str(directory / "slot-a.img"),
        "/dev/disk/by-partlabel/carec-root-b": str(directory / "slot-b.img"),
        "bundle-formats=verity": f"bundle-formats={bundle_formats}",
    }
    for old, new in replacements.items():
        assert old in text, f"image/rauc/system.conf no longer holds {old}"
        text = text.replace(old, new)
    for slot in ("a", "b"):
        (directory / f"slot-{slot}.img").write_bytes(bytes(1 << 20))
    conf = directory / "system.conf"
    conf.write_text(text)
    return conf


@dataclass(frozen=True)
class RaucService:
    conf: Path
    esp: Path
    env: dict[str, str]

    def rauc(self, *arguments: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            ["rauc", f"--conf={self.conf}", *arguments],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(f"rauc {' '.join(arguments)}: {result.stderr}{result.stdout}")
        return result

    def status(self) -> dict[str, object]:
        raw: dict[str, object] = json.loads(self.rauc("status", "--output-format=json").stdout)
        return raw


@contextmanager
def rauc_service(directory: Path, conf: Path, *, booted: str = "A") -> Iterator[RaucService]:
    """`rauc service` on a private system bus, booted from `booted`, the ESP in directory/esp."""
    socket = directory / "bus"
    (directory / "bus.conf").write_text(_BUS_CONF.format(socket=socket))
    esp = directory / "esp"
    esp.mkdir(exist_ok=True)
    env = os.environ | {
        "DBUS_SYSTEM_BUS_ADDRESS": f"unix:path={socket}",
        "CAREC_ESP": str(esp),
        "CAREC_EDGE": str(CAREC_EDGE),
        "CAREC_EDGE_PYTHON": str(PYTHON),
        "PYTHONPATH": str(REPO),
    }
    bus = subprocess.Popen(
        ["dbus-daemon", f"--config-file={directory / 'bus.conf'}", "--nofork"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    log = (directory / "rauc-service.log").open("w")
    service: subprocess.Popen[bytes] | None = None
    try:
        _wait_for(socket.exists, "the D-Bus socket")
        service = subprocess.Popen(
            ["rauc", f"--conf={conf}", "service", f"--override-boot-slot={booted}"],
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        handle = RaucService(conf, esp, env)
        _wait_for(lambda: _answers(handle), "rauc service on the bus")
        yield handle
    finally:
        for process in (service, bus):
            if process is not None:
                process.terminate()
                process.wait(timeout=30)
        log.close()


def _answers(service: RaucService) -> bool:
    result = subprocess.run(
        ["busctl", "--system", "status", "de.pengutronix.rauc"],
        env=service.env,
        capture_output=True,
        timeout=30,
        check=False,
    )
    return result.returncode == 0


def _wait_for(condition: object, what: str, timeout: float = 30.0) -> None:
    assert callable(condition)
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what} did not come up within {timeout:.0f} s")
        time.sleep(0.05)


def _run(command: list[str]) -> str:
    result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
    if result.returncode != 0:
        raise AssertionError(f"{command[0]}: {result.stderr}")
    return result.stdout
