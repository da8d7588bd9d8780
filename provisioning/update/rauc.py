"""The `rauc` command line: install a bundle, read the slots' status, verify a bundle's signature.

Debian's RAUC 1.8 is built with its D-Bus service: `rauc install` and `rauc status` ask
`rauc service` (rauc.service on the box) over the system bus; `rauc info` works alone.
"""

from __future__ import annotations

import json
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

COMPATIBLE = "carec-edge-x86_64"
INSTALL_TIMEOUT = 1800.0  # a slot of a few hundred MiB from a slow USB stick
QUERY_TIMEOUT = 60.0


class RaucError(RuntimeError):
    pass


class UpdateInstallError(RaucError):
    """RAUC refused or failed the install; the message is RAUC's own last lines."""


class BundleRefusedError(RaucError):
    """The bundle's signature, certificate or compatible does not pass."""


@dataclass(frozen=True)
class Slot:
    name: str  # rootfs.0
    bootname: str  # A
    state: str  # booted, active, inactive
    boot_status: str  # good, bad


@dataclass(frozen=True)
class SlotStatus:
    compatible: str
    booted: str  # the booted slot's bootname
    primary: str  # the slot name (rootfs.1) the boot loader starts next
    slots: tuple[Slot, ...]

    def slot(self, bootname: str) -> Slot:
        for slot in self.slots:
            if slot.bootname == bootname:
                return slot
        raise RaucError(f"RAUC knows no slot with bootname {bootname}")

    @property
    def primary_bootname(self) -> str:
        for slot in self.slots:
            if slot.name == self.primary:
                return slot.bootname
        return ""


@dataclass(frozen=True)
class BundleInfo:
    compatible: str
    version: str
    verity_salt: str = ""  # empty for a plain bundle
    verity_hash: str = ""  # the payload's root hash, covered by the signature
    verity_size: int = 0  # bytes of the payload's hash tree


def install_bundle(bundle: Path, *, conf: Path | None = None) -> None:
    """Write the bundle to the other slot and make it primary (RAUC does both)."""
    result = _rauc(["install", str(bundle)], conf=conf, timeout=INSTALL_TIMEOUT)
    if result.returncode != 0:
        raise UpdateInstallError(f"rauc install {bundle.name}: {_reason(result)}")


def slot_status(*, conf: Path | None = None) -> SlotStatus:
    result = _rauc(["status", "--output-format=json"], conf=conf, timeout=QUERY_TIMEOUT)
    if result.returncode != 0:
        raise RaucError(f"rauc status: {_reason(result)}")
    try:
        raw = json.loads(result.stdout)
        slots = tuple(
            Slot(name, str(fields["bootname"]), str(fields["state"]), str(fields["boot_status"]))
            for entry in raw["slots"]
            for name, fields in entry.items()
        )
        return SlotStatus(
            str(raw["compatible"]), str(raw["booted"]), str(raw["boot_primary"]), slots
        )
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise RaucError(f"rauc status: unexpected output ({error})") from None


def mark(state: str, slot: str = "booted", *, conf: Path | None = None) -> None:
    """`rauc status mark-good|mark-bad|mark-active booted|other|NAME`."""
    if state not in ("good", "bad", "active"):
        raise ValueError(f"mark {state!r}: good, bad or active")
    result = _rauc(["status", f"mark-{state}", slot], conf=conf, timeout=QUERY_TIMEOUT)
    if result.returncode != 0:
        raise RaucError(f"rauc status mark-{state} {slot}: {_reason(result)}")


def verify_bundle(
    bundle: Path, *, keyring: Path | None = None, conf: Path | None = None
) -> BundleInfo:
    """Check the bundle's signature against the box's keyring (its system.conf), or against
    `keyring` with the box's rules (codeSigning purpose); BundleRefusedError says why not.
    The signature covers the manifest, which for a verity bundle holds the payload's root
    hash: the payload itself is checked block by block as RAUC reads it (dm-verity on the box,
    `verify_payload` where there is no device-mapper)."""
    with tempfile.TemporaryDirectory(prefix="carec-rauc-") as work:
        if keyring is not None and conf is None:
            conf = Path(work) / "system.conf"
            conf.write_text(verify_conf(keyring))
        result = _rauc(["info", str(bundle)], conf=conf, timeout=QUERY_TIMEOUT)
    if result.returncode != 0:
        raise BundleRefusedError(f"{bundle.name}: {_reason(result)}")
    fields = _info_fields(result.stdout)
    try:
        info = BundleInfo(
            fields["Compatible"],
            fields["Version"],
            fields.get("Verity Salt", ""),
            fields.get("Verity Hash", ""),
            int(fields.get("Verity Size", "0")),
        )
    except (KeyError, ValueError) as error:
        raise RaucError(f"rauc info: unexpected output ({error})") from None
    if info.compatible != COMPATIBLE:
        raise BundleRefusedError(f"{bundle.name}: for {info.compatible!r}, not {COMPATIBLE!r}")
    return info


def verify_payload(bundle: Path, info: BundleInfo) -> None:
    """Check every block of a verity bundle's payload against its signed root hash, in user
    space (`veritysetup verify`, the same hash tree dm-verity walks). A bundle is
    payload | hash tree | CMS signature | the signature's size (8 bytes, big-endian)."""
    if not info.verity_hash:
        raise BundleRefusedError(f"{bundle.name}: not a verity bundle")
    total = bundle.stat().st_size
    with bundle.open("rb") as file:
        file.seek(total - 8)
        signature_size = int.from_bytes(file.read(8), "big")
    payload = total - 8 - signature_size - info.verity_size
    if payload <= 0 or payload % 4096:
        raise BundleRefusedError(f"{bundle.name}: sizes do not add up; not a RAUC verity bundle")
    command = [
        "veritysetup",
        "verify",
        "--no-superblock",
        f"--hash-offset={payload}",
        f"--data-blocks={payload // 4096}",
        f"--salt={info.verity_salt}",
        str(bundle),
        str(bundle),
        info.verity_hash,
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=INSTALL_TIMEOUT, check=False
        )
    except FileNotFoundError:
        raise RaucError("veritysetup is not installed (Debian package cryptsetup-bin)") from None
    if result.returncode != 0:
        raise BundleRefusedError(f"{bundle.name}: payload altered: {_reason(result)}")


def _info_fields(text: str) -> dict[str, str]:
    fields: dict[str, str] = {}
    for line in text.splitlines():
        key, separator, value = line.partition(":")
        if separator and key.strip() and key.strip() not in fields:
            fields[key.strip()] = value.strip().strip("'")
    return fields


def verify_conf(keyring: Path) -> str:
    """A system.conf with only what `rauc info` needs to check a signature as a box would."""
    return (
        "[system]\n"
        f"compatible={COMPATIBLE}\n"
        "bootloader=noop\n"
        "[keyring]\n"
        f"path={keyring.resolve()}\n"
        "check-purpose=codesign\n"
    )


def _rauc(
    arguments: list[str], *, conf: Path | None, timeout: float
) -> subprocess.CompletedProcess[str]:
    command = ["rauc", *([f"--conf={conf}"] if conf else []), *arguments]
    try:
        return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
    except FileNotFoundError:
        raise RaucError("rauc is not installed (Debian package rauc)") from None
    except subprocess.TimeoutExpired:
        raise RaucError(f"rauc {arguments[0]} did not finish within {timeout:.0f} s") from None


def _reason(result: subprocess.CompletedProcess[str]) -> str:
    lines = [line.strip() for line in (result.stderr + result.stdout).splitlines() if line.strip()]
    useful = [line for line in lines if "rauc-Message" not in line] or lines
    return " | ".join(useful[-3:]) or f"exit status {result.returncode}"
