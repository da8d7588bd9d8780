"""Building a signed RAUC bundle of one root slot image (`make bundle`, image/build/make-bundle).

The bundle holds the slot image as written to a partition (squashfs with its dm-verity hash tree
appended), rootfs.verity.json (the root hash the boot entry passes to the kernel), the install
hook (image/rauc/hooks/post-install) and the kernel options; RAUC signs the manifest with the
update-signing certificate (CMS) and, in `verity` format, protects the payload with its own hash
tree so the box checks every block it reads.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from provisioning.update import rauc
from provisioning.update.boot_entries import Verity
from provisioning.update.os_release import image_version_in

COMPATIBLE = rauc.COMPATIBLE
BundleFormat = Literal["verity", "plain"]

_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$")


class BundleError(RuntimeError):
    pass


@dataclass(frozen=True)
class Signer:
    certificate: Path
    key: Path
    keyring: Path | None = None  # the country CA: the new bundle is checked against it


def bundle_name(version: str) -> str:
    return f"carec-edge-{version}.raucb"


def image_version(rootfs: Path) -> str:
    """IMAGE_VERSION= of the slot image's /usr/lib/os-release (read with unsquashfs)."""
    result = _run(["unsquashfs", "-cat", str(rootfs), "usr/lib/os-release"], what="unsquashfs")
    version = image_version_in(result)
    if version is not None:
        return _checked_version(version)
    raise BundleError(f"{rootfs}: /usr/lib/os-release has no IMAGE_VERSION=")


def manifest(version: str, bundle_format: BundleFormat) -> str:
    return (
        "[update]\n"
        f"compatible={COMPATIBLE}\n"
        f"version={_checked_version(version)}\n"
        "\n"
        "[bundle]\n"
        f"format={bundle_format}\n"
        "\n"
        "[hooks]\n"
        "filename=hook\n"
        "\n"
        "[image.rootfs]\n"
        "filename=rootfs.img\n"
        "hooks=post-install\n"
    )


def build_bundle(
    rootfs: Path,
    verity_json: Path,
    out_dir: Path,
    signer: Signer,
    *,
    hook: Path,
    version: str | None = None,
    kernel_options: str = "",
    bundle_format: BundleFormat = "verity",
) -> Path:
    """out_dir/carec-edge-<version>.raucb, signed; BundleError with RAUC's words if it fails."""
    Verity.from_json(verity_json)  # a bundle whose entry could not be written is refused here
    version = _checked_version(version) if version else image_version(rootfs)
    out = out_dir / bundle_name(version)
    out_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=out_dir, prefix=".bundle-") as work:
        content = Path(work) / "content"
        content.mkdir()
        _link_or_copy(rootfs, content / "rootfs.img")
        shutil.copyfile(verity_json, content / "rootfs.verity.json")
        shutil.copyfile(hook, content / "hook")
        (content / "hook").chmod(0o755)
        (content / "kernel-options").write_text(" ".join(kernel_options.split()) + "\n")
        (content / "manifest.raucm").write_text(manifest(version, bundle_format))
        partial = Path(work) / out.name
        command = ["rauc", "bundle", "--cert", str(signer.certificate), "--key", str(signer.key)]
        _run([*command, str(content), str(partial)], what="rauc bundle")
        if signer.keyring is not None:
            # as a box checks it (codeSigning purpose), not as `rauc bundle --keyring` would
            try:
                info = rauc.verify_bundle(partial, keyring=signer.keyring)
                if bundle_format == "verity":
                    rauc.verify_payload(partial, info)
            except rauc.RaucError as error:
                raise BundleError(f"the new bundle does not verify: {error}") from None
        os.replace(partial, out)
    return out


def _checked_version(version: str) -> str:
    if not _VERSION.match(version):
        raise BundleError(f"version {version!r}: letters, digits and .+~_- only, 1-64 long")
    return version


def _link_or_copy(source: Path, target: Path) -> None:
    """A slot image is hundreds of MiB: a hard link when it is on the same file system."""
    try:
        os.link(source, target)
    except OSError:
        shutil.copyfile(source, target)


def _run(command: list[str], *, what: str) -> str:
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise BundleError(f"{command[0]} is not installed (Debian package {command[0]})") from None
    if result.returncode != 0:
        raise BundleError(f"{what} failed: {_last_lines(result.stderr or result.stdout)}")
    return result.stdout


def _last_lines(text: str, count: int = 3) -> str:
    return " | ".join(line.strip() for line in text.strip().splitlines()[-count:])
