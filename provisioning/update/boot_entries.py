"""The two slots' Boot Loader Specification entries on the ESP, as systemd-boot 252 reads them.

Each slot has one entry, `loader/entries/carec-a[+LEFT-DONE].conf` and `carec-b...`. An entry
with a counter is on trial: systemd-boot renames it on every boot it starts (`+3-0` -> `+2-1`),
and one at `+0-N` is bad. An entry without a counter is good (blessed by the self-test).

Which slot is primary needs no EFI variable: loader.conf says `default carec-*` and the slots'
`sort-key`s order them (`carec-1` primary, `carec-2` the other). Read from systemd-boot 252's
src/boot/efi/boot.c:
- config_entry_compare() puts entries with no tries left last, before anything else, then
  orders by sort-key; so a bad primary falls behind the other slot by itself;
- config_entry_find() returns the first entry in that order whose id matches the `default`
  pattern, and the id is the file name lowercased *with* its counter, hence a glob, not a name;
- an entry whose `linux` file is missing is dropped, so a half-copied kernel never boots;
- the EFI variables LoaderEntryOneShot/LoaderEntryDefault would override loader.conf: nothing
  here writes them (never run `bootctl set-default` on a box).
The functions below sort the same way, so `primary()` is the slot systemd-boot starts next.
"""

from __future__ import annotations

import functools
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from provisioning.identity.files import write_atomically

Slot = Literal["A", "B"]
SLOTS: tuple[Slot, ...] = ("A", "B")
TRIES = 3  # boots a new slot gets before systemd-boot gives up on it
ENTRIES_DIR = Path("loader/entries")
LOADER_CONF = Path("loader/loader.conf")
PRIMARY_KEY, SECONDARY_KEY = "carec-1", "carec-2"
PARTLABELS = {"A": "carec-root-a", "B": "carec-root-b"}

_ENTRY_NAME = re.compile(
    r"^carec-(?P<slot>[ab])(?:\+(?P<left>\d{1,4})(?:-(?P<done>\d{1,4}))?)?\.conf$"
)
_VERSION_RUN = re.compile(r"\d+|\D+")
_HEX = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.+~_-]{0,63}$")


class BootEntryError(ValueError):
    pass


@dataclass(frozen=True)
class Verity:
    """Where a slot's dm-verity hash tree is and what its root hash must be."""

    root_hash: str
    hash_offset: int
    data_size: int

    @classmethod
    def from_json(cls, path: Path) -> Verity:
        """rootfs.verity.json as the image build writes it: {root_hash, hash_offset, data_size}."""
        try:
            raw = json.loads(path.read_text())
            verity = cls(str(raw["root_hash"]), int(raw["hash_offset"]), int(raw["data_size"]))
        except (OSError, ValueError, KeyError, TypeError) as error:
            raise BootEntryError(f"{path}: not a verity description ({error})") from None
        return verity.checked(str(path))

    def checked(self, where: str) -> Verity:
        if not _HEX.match(self.root_hash):
            raise BootEntryError(f"{where}: root_hash must be 64 lowercase hex digits")
        if self.hash_offset <= 0 or self.hash_offset % 4096:
            raise BootEntryError(f"{where}: hash_offset {self.hash_offset} is not 4096-aligned")
        if not 0 < self.data_size <= self.hash_offset:
            raise BootEntryError(f"{where}: data_size {self.data_size} overlaps the hash tree")
        return self


@dataclass(frozen=True)
class BootEntry:
    slot: Slot
    path: Path
    tries_left: int | None  # None: no counter, the entry is good
    tries_done: int
    sort_key: str
    version: str = ""

    @property
    def bad(self) -> bool:
        return self.tries_left == 0

    @property
    def state(self) -> Literal["good", "trying", "bad"]:
        if self.tries_left is None:
            return "good"
        return "bad" if self.bad else "trying"


def parse_slot(text: str) -> Slot:
    slot = text.strip().upper()
    if slot == "A":
        return "A"
    if slot == "B":
        return "B"
    raise BootEntryError(f"slot {text!r}: give A or B")


def entry_name(slot: Slot, tries_left: int | None = None, tries_done: int = 0) -> str:
    counter = "" if tries_left is None else f"+{tries_left}-{tries_done}"
    return f"carec-{slot.lower()}{counter}.conf"


def kernel_dir(slot: Slot) -> str:
    """Where the slot's kernel and initrd live on the ESP (an entry's paths are ESP-absolute)."""
    return f"/carec/{slot.lower()}"


def kernel_options(slot: Slot, verity: Verity, extra: str = "") -> str:
    """The command line the initramfs's verity script reads (image/rootfs/)."""
    options = [
        f"rauc.slot={slot}",
        f"carec.verity=PARTLABEL={PARTLABELS[slot]}",
        f"carec.roothash={verity.root_hash}",
        f"carec.hashoffset={verity.hash_offset}",
        f"carec.datasize={verity.data_size}",
        "root=/dev/mapper/root",
        "ro",
        # a slot whose kernel or initramfs panics must restart, or its tries never run out
        "panic=10",
    ]
    return " ".join(options + extra.split())


def render_entry(
    slot: Slot, version: str, verity: Verity, *, sort_key: str, extra_options: str = ""
) -> str:
    if not _VERSION.match(version):
        raise BootEntryError(f"version {version!r}: letters, digits and .+~_- only, 1-64 long")
    directory = kernel_dir(slot)
    return (
        f"title carec-edge {version} (slot {slot})\n"
        f"version {version}\n"
        f"sort-key {sort_key}\n"
        f"linux {directory}/vmlinuz\n"
        f"initrd {directory}/initrd.img\n"
        f"options {kernel_options(slot, verity, extra_options)}\n"
    )


def render_loader_conf() -> str:
    """timeout 0 boots the default at once (a key held at power-on still shows the menu)."""
    return "default carec-*\ntimeout 0\neditor no\nauto-entries no\nauto-firmware no\n"


def read_entries(esp: Path) -> dict[Slot, BootEntry]:
    """Each slot's entry; BootEntryError when a slot has two (a rename interrupted by hand)."""
    found: dict[Slot, BootEntry] = {}
    directory = esp / ENTRIES_DIR
    if not directory.is_dir():
        return found
    for path in sorted(directory.iterdir()):
        match = _ENTRY_NAME.match(path.name.lower())
        if not match:
            continue
        slot = parse_slot(match["slot"])
        if slot in found:
            raise BootEntryError(
                f"{directory}: two entries for slot {slot}: {path.name}, "
                f"{found[slot].path.name}; remove the stale one"
            )
        left = match["left"]
        found[slot] = BootEntry(
            slot=slot,
            path=path,
            tries_left=None if left is None else int(left),
            tries_done=int(match["done"] or 0),
            sort_key=_field(path, "sort-key"),
            version=_field(path, "version"),
        )
    return found


def boot_order(esp: Path) -> list[BootEntry]:
    """The entries in systemd-boot 252's order (config_entry_compare): bad ones last; then by
    sort-key; on equal keys the newer version first, then the id (the file name) downwards."""
    return sorted(read_entries(esp).values(), key=functools.cmp_to_key(_compare))


def _compare(a: BootEntry, b: BootEntry) -> int:
    if a.bad != b.bad:
        return 1 if a.bad else -1
    if a.sort_key != b.sort_key:
        # an entry without a sort-key goes after those with one
        if not a.sort_key or not b.sort_key:
            return 1 if not a.sort_key else -1
        return -1 if a.sort_key < b.sort_key else 1
    if a.sort_key and a.version != b.version:
        return -_version_compare(a.version, b.version)
    return -_version_compare(a.path.name.lower(), b.path.name.lower())


def _version_compare(a: str, b: str) -> int:
    """Enough of systemd's strverscmp_improved for our names: runs of digits compare as
    numbers, other runs as text."""
    left, right = _VERSION_RUN.findall(a), _VERSION_RUN.findall(b)
    for x, y in zip(left, right, strict=False):
        if x == y:
            continue
        if x.isdigit() and y.isdigit():
            return -1 if int(x) < int(y) else 1
        return -1 if x < y else 1
    return (len(left) > len(right)) - (len(left) < len(right))


def primary(esp: Path) -> Slot:
    """The slot systemd-boot starts next."""
    order = boot_order(esp)
    if not order:
        raise BootEntryError(f"{esp / ENTRIES_DIR}: no carec-a/carec-b entry")
    return order[0].slot


def entry(esp: Path, slot: Slot) -> BootEntry:
    found = read_entries(esp).get(slot)
    if found is None:
        raise BootEntryError(f"{esp / ENTRIES_DIR}: slot {slot} has no boot entry")
    return found


def write_entry(
    esp: Path,
    slot: Slot,
    version: str,
    verity: Verity,
    *,
    tries: int | None = TRIES,
    extra_options: str = "",
) -> Path:
    """The slot's new entry, replacing its old one, with a fresh counter (None: already good).
    It keeps the old entry's rank; `set_primary` decides which slot goes first."""
    entries = read_entries(esp)
    old = entries.get(slot)
    # a slot keeps its rank; the first entry on an empty ESP is primary, a later one is not
    sort_key = old.sort_key if old and old.sort_key else SECONDARY_KEY if entries else PRIMARY_KEY
    text = render_entry(
        slot, version, verity.checked(slot), sort_key=sort_key, extra_options=extra_options
    )
    path = esp / ENTRIES_DIR / entry_name(slot, tries)
    write_atomically(path, text.encode(), mode=0o644, overwrite=True)
    if old and old.path != path:
        old.path.unlink()
    return path


def set_primary(esp: Path, slot: Slot, *, tries: int = TRIES) -> None:
    """`slot` first, the other second. A bad entry made primary gets a fresh counter: asking
    for a slot is asking to try it again (RAUC's mark-active)."""
    entries = read_entries(esp)
    if slot not in entries:
        raise BootEntryError(f"{esp / ENTRIES_DIR}: slot {slot} has no boot entry to make primary")
    if entries[slot].bad:
        _rename(entries[slot], tries, 0)
    for each in read_entries(esp).values():
        _set_sort_key(each.path, PRIMARY_KEY if each.slot == slot else SECONDARY_KEY)


def mark_good(esp: Path, slot: Slot) -> None:
    """Bless: drop the counter, so systemd-boot stops counting (what systemd-bless-boot does)."""
    _rename(entry(esp, slot), None, 0)


def mark_bad(esp: Path, slot: Slot) -> None:
    """No tries left: sorted last, never chosen while the other slot has an entry. The name
    matches what `systemd-bless-boot bad` would write, so the two never disagree."""
    current = entry(esp, slot)
    _rename(current, 0, current.tries_done)


def _rename(current: BootEntry, tries_left: int | None, tries_done: int) -> None:
    target = current.path.with_name(entry_name(current.slot, tries_left, tries_done))
    if target != current.path:
        os.replace(current.path, target)
        _fsync(target.parent)


def _field(path: Path, name: str) -> str:
    for line in path.read_text(errors="replace").splitlines():
        key, _, value = line.strip().partition(" ")
        if key == name:
            return value.strip()
    return ""


def _set_sort_key(path: Path, sort_key: str) -> None:
    lines = path.read_text().splitlines()
    kept = [line for line in lines if line.strip().partition(" ")[0] != "sort-key"]
    text = "\n".join([*kept[:1], f"sort-key {sort_key}", *kept[1:]]) + "\n"
    if text != path.read_text():
        write_atomically(path, text.encode(), mode=0o644, overwrite=True)


def _fsync(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
