"""The image tests' shared pieces: the built image (`make image`, which `make image-test` runs
first), whether KVM really runs guests here, and the update bundles the tests install: the
image's root under a newer version, and a broken one whose carec-edge service never starts
(so the self-test fails), both signed by SLOT's `carec-edge update bundle` with the image's
dev keys and carried on a "USB stick" (an ext4 disk image the VM sees as a second disk)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.image.machine import kvm_usable

ROOT = Path(__file__).resolve().parents[2]
IMAGE_DIR = ROOT / "build" / "image"
CARE_EDGE = ROOT / ".venv" / "bin" / "carec-edge"
# The broken root: a drop-in that makes carec-edge.service fail before it starts, as a bad
# release would; the self-test's "service up" check fails on it.
BROKEN_PSEUDO = (
    "usr/lib/systemd/system/carec-edge.service.d/zz-broken.conf f 644 0 0 "
    "printf '[Service]\\nExecStartPre=/bin/false\\n'\n"
)
# The bundles' boot entries print to the serial console as the factory's do (test logs).
KERNEL_OPTIONS = "console=ttyS0"


@dataclass(frozen=True)
class Bundles:
    base_version: str
    good: Path  # the image's root as base_version + ".update" (its name on the stick)
    good_version: str
    broken: Path
    broken_version: str
    stick: Path  # ext4 image holding both, for the VM's second disk


@pytest.fixture(scope="session")
def image() -> Path:
    disk = IMAGE_DIR / "carec-edge.img"
    if not disk.exists():
        pytest.fail(f"{disk} is missing: `make image` builds it (`make image-test` runs it first)")
    return disk


@pytest.fixture(scope="session")
def kvm(tmp_path_factory: pytest.TempPathFactory) -> bool:
    usable = kvm_usable(tmp_path_factory.mktemp("kvm"))
    print(f"\nimage tests: QEMU with {'KVM' if usable else 'TCG (KVM not usable here)'}")
    return usable


@pytest.fixture(scope="session")
def bundles(image: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Bundles]:
    work = tmp_path_factory.mktemp("bundles")
    base = json.loads((IMAGE_DIR / "rootfs.verity.json").read_text())["version"]
    pseudo = work / "broken.pseudo"
    pseudo.write_text(BROKEN_PSEUDO)
    stick = work / "stick"
    stick.mkdir()
    good = _bundle(work / "good", f"{base}.update", None, stick)
    broken = _bundle(work / "broken", f"{base}.broken", pseudo, stick)
    stick_image = work / "stick.img"
    size_mib = sum(p.stat().st_size for p in stick.iterdir()) // 1048576 + 64
    subprocess.run(["mkfs.ext4", "-q", "-F", "-L", "carec-usb", "-d", str(stick),
                    str(stick_image), f"{size_mib}M"], check=True)  # fmt: skip
    for bundle in (good, broken):  # the stick holds them now: 1.4 GB less under /tmp
        bundle.unlink()
    yield Bundles(base, good, f"{base}.update", broken, f"{base}.broken", stick_image)
    shutil.rmtree(work, ignore_errors=True)


def _bundle(work: Path, version: str, pseudo: Path | None, stick: Path) -> Path:
    env = dict(os.environ, SOURCE_DATE_EPOCH=_source_date_epoch())
    command = [str(ROOT / "image/build/make-root-img"), str(IMAGE_DIR / "tree"), str(work), version]
    if pseudo is not None:
        command.append(str(pseudo))
    subprocess.run(command, check=True, env=env, stdout=sys.stderr)
    keys = IMAGE_DIR / "keys"
    subprocess.run([str(CARE_EDGE), "update", "dev-keys", "--dir", str(keys)], check=True,
                   stdout=subprocess.DEVNULL)  # fmt: skip
    built = subprocess.run(
        [str(CARE_EDGE), "update", "bundle", "--rootfs", str(work / "rootfs.img"),
         "--verity", str(work / "rootfs.verity.json"),
         "--hook", str(ROOT / "image/rauc/hooks/post-install"), "--out-dir", str(work),
         "--cert", str(keys / "update-signer.crt"), "--key", str(keys / "update-signer.key"),
         "--keyring", str(keys / "ca" / "ca.crt"), "--version", version,
         "--kernel-options", KERNEL_OPTIONS],
        check=True, capture_output=True, text=True,
    )  # fmt: skip
    bundle = Path(built.stdout.strip().splitlines()[-1])
    target = stick / bundle.name
    bundle.rename(target)
    (work / "rootfs.img").unlink()
    return target


def _source_date_epoch() -> str:
    return subprocess.run(["git", "-C", str(ROOT), "log", "-1", "--format=%ct"],
                          check=True, capture_output=True, text=True).stdout.strip()  # fmt: skip
