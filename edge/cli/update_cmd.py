"""`carec-edge update`: the box's A/B slots: `status`, `install BUNDLE`, `self-test` (the gate
that marks a new slot good or falls back), `bootloader VERB` (RAUC's custom boot-loader backend,
for people; RAUC itself runs image/rauc/bootloader-backend) and `boot-entry` (writes a slot's
systemd-boot entry: the image build and the RAUC install hook use it)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from edge.cli.context import CliContext
from provisioning.update import boot_entries, bootloader_backend
from provisioning.update.boot_entries import BootEntryError, Verity, parse_slot


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "update", help="signed A/B updates: slots, install, self-test, boot entries"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    backend = actions.add_parser(
        "bootloader", help="RAUC's custom boot-loader backend verbs, on the ESP's entries"
    )
    backend.add_argument("verb", choices=bootloader_backend.VERBS)
    backend.add_argument("arguments", nargs="*", metavar="ARG", help="BOOTNAME [good|bad]")
    backend.add_argument("--esp", type=CliContext.path_arg, help="default $CAREC_ESP or /efi")
    backend.set_defaults(handler=bootloader_command)

    entry = actions.add_parser("boot-entry", help="write a slot's systemd-boot entry")
    entry.add_argument("--esp", required=True, type=CliContext.path_arg)
    entry.add_argument("--slot", required=True, type=_slot_arg, help="A or B")
    entry.add_argument("--version", required=True, help="the image version (IMAGE_VERSION)")
    entry.add_argument(
        "--verity", required=True, type=CliContext.path_arg, help="rootfs.verity.json"
    )
    entry.add_argument(
        "--options", default="", help="more kernel options, e.g. 'quiet console=ttyS0'"
    )
    counting = entry.add_mutually_exclusive_group()
    counting.add_argument(
        "--tries", type=int, default=boot_entries.TRIES, help=f"default {boot_entries.TRIES}"
    )
    counting.add_argument("--good", action="store_true", help="no counter: the factory slot")
    entry.add_argument("--primary", action="store_true", help="boot this slot next")
    entry.add_argument("--loader-conf", action="store_true", help="also write loader.conf")
    entry.set_defaults(handler=boot_entry_command)

    status = actions.add_parser("status", help="the slots' boot entries and the update state")
    status.add_argument("--esp", type=CliContext.path_arg, help="default $CAREC_ESP or /efi")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)


def bootloader_command(args: argparse.Namespace, _context: CliContext) -> int:
    esp = args.esp or bootloader_backend.esp_path()
    try:
        output = bootloader_backend.run(args.verb, args.arguments, esp)
    except (BootEntryError, OSError) as error:
        return _fail(error)
    if output:
        print(output)
    return 0


def boot_entry_command(args: argparse.Namespace, _context: CliContext) -> int:
    if not args.good and not 1 <= args.tries <= 99:
        return _fail(BootEntryError(f"--tries {args.tries}: give 1 to 99"))
    try:
        verity = Verity.from_json(args.verity)
        path = boot_entries.write_entry(
            args.esp,
            args.slot,
            args.version,
            verity,
            tries=None if args.good else args.tries,
            extra_options=args.options,
        )
        if args.primary:
            boot_entries.set_primary(args.esp, args.slot)
        if args.loader_conf:
            conf = args.esp / boot_entries.LOADER_CONF
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(boot_entries.render_loader_conf())
    except (BootEntryError, OSError) as error:
        return _fail(error)
    print(path)
    return 0


def status_command(args: argparse.Namespace, _context: CliContext) -> int:
    esp = args.esp or bootloader_backend.esp_path()
    try:
        order = boot_entries.boot_order(esp)
    except (BootEntryError, OSError) as error:
        return _fail(error)
    slots = [
        {"slot": e.slot, "state": e.state, "tries_left": e.tries_left, "entry": e.path.name}
        for e in order
    ]
    primary = order[0].slot if order else None
    if args.json:
        print(json.dumps({"primary": primary, "slots": slots}))
        return 0
    print(f"primary (boots next): {primary or '-'}")
    for slot in slots:
        print(f"slot {slot['slot']}: {slot['state']} ({slot['entry']})")
    return 0


def _slot_arg(text: str) -> boot_entries.Slot:
    try:
        return parse_slot(text)
    except BootEntryError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fail(error: Exception) -> int:
    print(f"carec-edge: {error}", file=sys.stderr)
    return 1
