"""`carec-edge update`: the box's A/B slots: `status`, `install BUNDLE`, `self-test` (the gate
that marks a new slot good or falls back), `bootloader VERB` (RAUC's custom boot-loader backend,
for people; RAUC itself runs image/rauc/bootloader-backend) and `boot-entry` (writes a slot's
systemd-boot entry: the image build and the RAUC install hook use it)."""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from drivers.registry import DeviceConfigError
from edge.cli import update_fetch_cmd
from edge.cli.context import CliContext
from edge.config import ConfigError
from edge.timeutil import format_utc, utcnow
from provisioning.identity.ca import init_ca, load_ca
from provisioning.identity.errors import IdentityError
from provisioning.update import boot_entries, bootloader_backend, rauc, selftest, signer
from provisioning.update.boot_entries import BootEntryError, Verity, parse_slot
from provisioning.update.bundle import BundleError, Signer, build_bundle
from provisioning.update.state import UpdateState, UpdateStateError, read_state

DEFAULT_STATE_DIR = Path("/var/lib/carec-edge")


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "update", help="signed A/B updates: slots, install, self-test, boot entries"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    update_fetch_cmd.add_parser(actions)

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

    install = actions.add_parser("install", help="verify a bundle and install it to the other slot")
    install.add_argument("bundle", type=CliContext.path_arg, metavar="BUNDLE")
    install.add_argument("--rauc-conf", type=CliContext.path_arg, help="default /etc/rauc")
    install.add_argument("--reboot", action="store_true", help="restart into it when installed")
    install.set_defaults(handler=install_command)

    gate = actions.add_parser(
        "self-test", help="after boot: mark this slot good, or mark it bad and fall back"
    )
    gate.add_argument("--esp", type=CliContext.path_arg, help="default $CAREC_ESP or /efi")
    gate.add_argument("--rauc-conf", type=CliContext.path_arg, help="default /etc/rauc")
    gate.add_argument("--unit", default=selftest.SERVICE_UNIT, help="the service to wait for")
    gate.add_argument(
        "--wait", type=float, default=selftest.SERVICE_WAIT, help="seconds to wait for it"
    )
    gate.add_argument(
        "--settle", type=float, default=selftest.SETTLE, help="seconds it must then stay up"
    )
    gate.set_defaults(handler=self_test_command)


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


def status_command(args: argparse.Namespace, context: CliContext) -> int:
    esp = args.esp or bootloader_backend.esp_path()
    try:
        order = boot_entries.boot_order(esp)
        state = read_state(_state_dir(context))
    except (BootEntryError, UpdateStateError, OSError) as error:
        return _fail(error)
    slots = [
        {"slot": e.slot, "state": e.state, "tries_left": e.tries_left, "entry": e.path.name}
        for e in order
    ]
    primary = order[0].slot if order else None
    if args.json:
        print(json.dumps({"primary": primary, "slots": slots, "update": state.model_dump()}))
        return 0
    print(f"primary (boots next): {primary or '-'}")
    for slot in slots:
        print(f"slot {slot['slot']}: {slot['state']} ({slot['entry']})")
    reason = f": {state.reason}" if state.reason else ""
    print(f"update: {state.phase} {state.version}{reason}".rstrip())
    return 0


def install_command(args: argparse.Namespace, context: CliContext) -> int:
    """By hand, e.g. from a USB stick whose TUF metadata `update fetch` checked."""
    state_dir = _state_dir(context)
    try:
        info = rauc.verify_bundle(args.bundle, conf=args.rauc_conf)
        _write(state_dir, "installing", info.version, args.bundle.name)
        rauc.install_bundle(args.bundle, conf=args.rauc_conf)
    except rauc.RaucError as error:
        _write(state_dir, "failed", "", args.bundle.name, str(error))
        return _fail(error)
    _write(state_dir, "rebooting", info.version, args.bundle.name)
    print(f"installed {info.version} to the other slot; it boots next (on trial)")
    if args.reboot:
        selftest.Box(esp=Path("/efi"), state_dir=state_dir).reboot()
    return 0


def self_test_command(args: argparse.Namespace, context: CliContext) -> int:
    state_dir = _state_dir(context)
    box = selftest.Box(
        esp=args.esp or bootloader_backend.esp_path(), state_dir=state_dir, rauc_conf=args.rauc_conf
    )

    def checks() -> Iterator[selftest.Check]:
        yield selftest.check_service(args.unit, args.wait, args.settle)
        yield selftest.check_store(state_dir)
        try:
            devices = [
                (device.id, str(getattr(device, "port", "") or getattr(device, "source", "")))
                for device in context.devices
            ]
        except (ConfigError, DeviceConfigError) as error:
            yield selftest.Check("devices", False, f"config: {error}")
        else:
            yield selftest.check_devices(devices)
        yield selftest.check_sync(state_dir, selftest.booted_at())

    try:
        verdict = selftest.gate(box, checks)
    except (BootEntryError, UpdateStateError, rauc.RaucError, OSError) as error:
        return _fail(error)
    print(verdict.report())
    return 0 if verdict.outcome != "rolled_back" else 1


def _state_dir(context: CliContext) -> Path:
    """The store's directory; the appliance's default when the config cannot be read (a new
    slot whose config reader fails must still fall back)."""
    try:
        return context.data_dir
    except ConfigError:
        return context.data_dir_option or DEFAULT_STATE_DIR


def _write(directory: Path, phase: Any, version: str, target: str, reason: str = "") -> None:
    state = UpdateState(
        phase=phase,
        target=target[:200],
        version=version[:64],
        reason=reason[:500],
        updated_at=format_utc(utcnow()),
    )
    selftest.write_state_as_owner(directory, state)  # root's file stays the service's


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
