"""RAUC 1.8's `custom` boot-loader backend over the slots' systemd-boot entries.

RAUC runs `bootloader-custom-backend` (system.conf [handlers]) with one of
  get-primary                 -> prints the bootname of the slot booted next
  set-primary BOOTNAME        -> that slot next (RAUC's mark-active, and the end of an install)
  get-state BOOTNAME          -> prints `good` or `bad`
  set-state BOOTNAME good|bad -> mark-good blesses the entry, mark-bad takes its tries away
and reads a non-zero exit as failure, with stderr as the reason. RAUC 1.8 finds the booted slot
from `rauc.slot=` on the kernel command line itself; `get-current` (what later RAUC versions
ask) answers from the same place.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from provisioning.update import boot_entries
from provisioning.update.boot_entries import BootEntryError, parse_slot

DEFAULT_ESP = Path("/efi")
VERBS = ("get-primary", "set-primary", "get-state", "set-state", "get-current")


def esp_path() -> Path:
    """The mounted ESP: $CAREC_ESP (tests point it at a directory), else /efi."""
    return Path(os.environ.get("CAREC_ESP") or DEFAULT_ESP)


def run(
    verb: str, arguments: Sequence[str], esp: Path, cmdline: Path = Path("/proc/cmdline")
) -> str:
    """What to print for one backend call; BootEntryError says why RAUC's request is refused."""
    expected = {
        "get-primary": 0,
        "get-current": 0,
        "set-primary": 1,
        "get-state": 1,
        "set-state": 2,
    }
    if verb not in expected:
        raise BootEntryError(f"unknown verb {verb!r}; one of {', '.join(VERBS)}")
    if len(arguments) != expected[verb]:
        raise BootEntryError(f"{verb} takes {expected[verb]} argument(s), got {len(arguments)}")
    if verb == "get-primary":
        return boot_entries.primary(esp)
    if verb == "get-current":
        return booted_slot(cmdline)
    slot = parse_slot(arguments[0])
    if verb == "set-primary":
        boot_entries.set_primary(esp, slot)
        return ""
    if verb == "get-state":
        found = boot_entries.read_entries(esp).get(slot)
        return "bad" if found is None or found.bad else "good"
    state = arguments[1]
    if state == "good":
        boot_entries.mark_good(esp, slot)
    elif state == "bad":
        boot_entries.mark_bad(esp, slot)
    else:
        raise BootEntryError(f"set-state {slot} {state!r}: give good or bad")
    return ""


def booted_slot(cmdline: Path = Path("/proc/cmdline")) -> boot_entries.Slot:
    """The slot this system booted from, by the `rauc.slot=` its boot entry passed."""
    for word in cmdline.read_text().split():
        if word.startswith("rauc.slot="):
            return parse_slot(word.removeprefix("rauc.slot="))
    raise BootEntryError(f"{cmdline}: no rauc.slot= (not booted from a carec-edge slot)")


def main(argv: Sequence[str]) -> int:
    """The backend as RAUC runs it (image/rauc/bootloader-backend): quick to start, since RAUC
    asks several times per `rauc status`; `carec-edge update bootloader` is the same for people."""
    if not argv:
        print(f"usage: bootloader-backend {'|'.join(VERBS)} [BOOTNAME [good|bad]]", file=sys.stderr)
        return 2
    try:
        output = run(argv[0], argv[1:], esp_path())
    except (BootEntryError, OSError) as error:
        print(f"carec-edge bootloader backend: {error}", file=sys.stderr)
        return 1
    if output:
        print(output)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
