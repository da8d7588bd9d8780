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
from provisioning.identity.ca import init_ca, load_ca
from provisioning.identity.errors import IdentityError
from provisioning.update import boot_entries, bootloader_backend, signer
from provisioning.update.boot_entries import BootEntryError, Verity, parse_slot
from provisioning.update.bundle import BundleError, Signer, build_bundle


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

    bundle = actions.add_parser("bundle", help="build a signed RAUC bundle of a slot image")
    bundle.add_argument("--rootfs", required=True, type=CliContext.path_arg, help="rootfs.img")
    bundle.add_argument("--verity", required=True, type=CliContext.path_arg)
    bundle.add_argument("--hook", required=True, type=CliContext.path_arg)
    bundle.add_argument("--out-dir", required=True, type=CliContext.path_arg)
    bundle.add_argument("--cert", required=True, type=CliContext.path_arg, help="the signer")
    bundle.add_argument("--key", required=True, type=CliContext.path_arg)
    bundle.add_argument("--keyring", type=CliContext.path_arg, help="check against this CA")
    bundle.add_argument("--version", help="default: IMAGE_VERSION of the image's os-release")
    bundle.add_argument("--kernel-options", default="", help="more kernel options")
    bundle.add_argument("--format", choices=("verity", "plain"), default="verity")
    bundle.set_defaults(handler=bundle_command)

    issue = actions.add_parser(
        "issue-signer", help="issue an update-signing certificate under a country CA"
    )
    issue.add_argument("--ca", required=True, type=CliContext.path_arg, help="the CA's dir")
    issue.add_argument("--out", required=True, type=CliContext.path_arg, help="where to write")
    issue.add_argument("--days", type=int, default=signer.SIGNER_DAYS)
    issue.set_defaults(handler=issue_signer_command)

    dev_keys = actions.add_parser(
        "dev-keys", help="a dev country CA and update signer (kept when already there)"
    )
    dev_keys.add_argument("--dir", required=True, type=CliContext.path_arg)
    dev_keys.add_argument("--country", default="KZ")
    dev_keys.set_defaults(handler=dev_keys_command)

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


def bundle_command(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        path = build_bundle(
            args.rootfs,
            args.verity,
            args.out_dir,
            Signer(args.cert, args.key, args.keyring),
            hook=args.hook,
            version=args.version,
            kernel_options=args.kernel_options,
            bundle_format=args.format,
        )
    except (BundleError, BootEntryError, OSError) as error:
        return _fail(error)
    print(path)
    return 0


def issue_signer_command(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        files = signer.issue_signer_files(args.ca, args.out, days=args.days)
    except IdentityError as error:
        return _fail(error)
    print(f"{files.certificate} (key {files.key}), valid until {files.not_after:%Y-%m-%d}")
    return 0


def dev_keys_command(args: argparse.Namespace, _context: CliContext) -> int:
    """build/image/keys/: ca/ca.crt (the box's keyring) and update-signer.{crt,key}."""
    ca_dir = args.dir / "ca"
    try:
        if not (ca_dir / "ca.crt").exists():
            init_ca(args.country, ca_dir)
        load_ca(ca_dir)
        if not (args.dir / signer.SIGNER_CERT).exists():
            signer.issue_signer_files(ca_dir, args.dir)
    except IdentityError as error:
        return _fail(error)
    print(f"keyring {ca_dir / 'ca.crt'}, signer {args.dir / signer.SIGNER_CERT}")
    return 0


def _slot_arg(text: str) -> boot_entries.Slot:
    try:
        return parse_slot(text)
    except BootEntryError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def _fail(error: Exception) -> int:
    print(f"carec-edge: {error}", file=sys.stderr)
    return 1
