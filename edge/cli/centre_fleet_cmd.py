"""`carec-edge centre fleet ...`: the fleet operator's actions from the command line, on the
centre's database and with its key (the running centre sends what they queue).

    register NODE SERIAL | approve NODE | refuse NODE --reason R | reset NODE --reason R
    | revoke NODE --reason R | pending                      enrolment ([fleet.enrolment])
    status [--json]                                         every box: colour, twin, alerts
    command NODE... --action A [--ttl-minutes M]            a signed, expiring command
    twin NODE --sections FILE.json [--grace-s S]            a new desired configuration
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.context import CliContext
from provisioning.identity.errors import IdentityError

if TYPE_CHECKING:
    from centre.config import CentreConfig
    from sync.outbox import Outbox

ENROLMENT_ACTIONS = ("register", "approve", "refuse", "reset", "revoke", "pending")


def register_centre(commands: Any, default_config: Path) -> None:
    fleet: argparse.ArgumentParser = commands.add_parser(
        "fleet", help="the fleet: enrol, revoke, status, commands and configuration of boxes"
    )
    fleet.add_argument("--config", dest="centre_config", type=Path, default=default_config)
    fleet.add_argument("--operator", default=None, help="who acts (default: the login name)")
    actions = fleet.add_subparsers(dest="fleet_action", required=True, metavar="ACTION")
    register = actions.add_parser("register", help="pre-register a box by its serial")
    register.add_argument("node")
    register.add_argument("serial")
    approve = actions.add_parser("approve", help="enrol a waiting box (compare its code first)")
    approve.add_argument("node")
    for name, help_text in (
        ("refuse", "refuse a waiting box"),
        ("reset", "forget a refused box, so it may ask again"),
        ("revoke", "revoke an enrolled box: CRL, every box told, the centre refuses it"),
    ):
        sub = actions.add_parser(name, help=help_text)
        sub.add_argument("node")
        sub.add_argument("--reason", required=True, help="kept in the audit, never in logs")
    actions.add_parser("pending", help="the boxes waiting, with their codes")
    status = actions.add_parser("status", help="every box: health colour, twin, open alerts")
    status.add_argument("--json", action="store_true", help="one JSON object per box")
    command = actions.add_parser("command", help="send boxes a signed, expiring command")
    command.add_argument("nodes", nargs="+", metavar="NODE")
    command.add_argument(
        "--action",
        required=True,
        help="restart, self_test, diagnostics, reload_trust, rotate_key, reboot",
    )
    command.add_argument("--ttl-minutes", type=float, default=60.0,
                         help="the box refuses it after this (default 60)")  # fmt: skip
    twin = actions.add_parser("twin", help="send a box a new desired configuration")
    twin.add_argument("node")
    twin.add_argument("--sections", type=Path, required=True,
                      help='a JSON file: {"matching": {...}, "lanes": {...}}; sections not '
                      "named keep their desired content")  # fmt: skip
    twin.add_argument("--grace-s", type=int, default=300,
                      help="the box rolls back when its health fails within this")  # fmt: skip
    fleet.set_defaults(handler=centre_fleet_command)


def centre_fleet_command(args: argparse.Namespace, _context: CliContext) -> int:
    from centre.config import load_centre_config
    from centre.fleet.desk import FleetError
    from centre.fleet.enrolment import EnrolmentError

    config = load_centre_config(args.centre_config)
    operator = args.operator or getpass.getuser()
    try:
        with _outbox(config) as outbox:
            if args.fleet_action in ENROLMENT_ACTIONS:
                return _enrolment(args, config, outbox, operator)
            return _desk(args, config, outbox, operator)
    except FleetError as error:
        for reason in error.reasons:
            print(f"carec-edge: {reason}", file=sys.stderr)
        return 1
    except (EnrolmentError, ValueError, IdentityError, OSError) as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 1


@contextmanager
def _outbox(config: CentreConfig) -> Iterator[Outbox]:
    """The centre's outbox on its database, signing with its key: what is sent here waits
    there until the running centre's link takes it."""
    from centre.service import outbox_routes
    from centre.store import open_centre_database
    from sync.outbox import Outbox, Signer

    engine = open_centre_database(config.centre.database)
    try:
        signer = Signer.load(config.identity.identity_dir, config.centre.id)
        yield Outbox(engine, signer, outbox_routes(config))
    finally:
        engine.dispose()


def _enrolment(
    args: argparse.Namespace, config: CentreConfig, outbox: Outbox, operator: str
) -> int:
    from centre.fleet.enrolment import Enrolments, EnrolmentSettings

    section = config.fleet.enrolment
    if section is None:
        print(f"carec-edge: no [fleet.enrolment] in {args.centre_config}", file=sys.stderr)
        return 2
    settings = EnrolmentSettings.of(
        section, config.identity.trust_store, partner_centres=[p.centre for p in config.partners]
    )
    enrolments = Enrolments(outbox.engine, outbox, settings)
    action = args.fleet_action
    if action == "pending":
        for box in enrolments.pending():
            print(f"{box.node_id}  serial {box.serial}  code {box.code}  "
                  f"asked {box.requested_at:%Y-%m-%d %H:%M}Z")  # fmt: skip
        return 0
    if action == "register":
        enrolments.register(args.node, args.serial, operator=operator)
    elif action == "approve":
        enrolments.approve(args.node, operator=operator)
    elif action == "refuse":
        enrolments.refuse(args.node, operator=operator, reason=args.reason)
    elif action == "reset":
        enrolments.reset(args.node, operator=operator, reason=args.reason)
    elif action == "revoke":
        enrolments.revoke(args.node, operator=operator, reason=args.reason)
    print(f"{args.node}: {enrolments.state_of(args.node) or 'forgotten'}")
    return 0


def _desk(args: argparse.Namespace, config: CentreConfig, outbox: Outbox, operator: str) -> int:
    from centre.fleet.desk import FleetDesk

    desk = FleetDesk(outbox.engine, outbox, settings=config.fleet)
    action = args.fleet_action
    if action == "status":
        boxes = desk.boxes()
        for box in boxes:
            if args.json:
                print(json.dumps(asdict(box), default=str))
                continue
            seen = f"{box.last_seen:%Y-%m-%d %H:%M:%S}Z" if box.last_seen else "never"
            twin = f"twin {box.applied_version}/{box.desired_version}"
            if box.twin_state:
                twin += f" {box.twin_state}"
            print(f"{box.node_id:<22} {box.state:<10} {box.colour:<6} seen {seen}  {twin}  "
                  f"alerts {box.open_alerts}  {box.software_version or '-'}")  # fmt: skip
        if not boxes and not args.json:
            print("no boxes yet")
        return 0
    if action == "command":
        ttl = dt.timedelta(minutes=args.ttl_minutes)
        ids = desk.issue_command(args.nodes, args.action, operator=operator, ttl=ttl)
        for node, command_id in zip(args.nodes, ids, strict=True):
            print(f"{node}: {args.action} queued as command {command_id}")
        return 0
    try:
        sections = json.loads(args.sections.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        print(f"carec-edge: {args.sections}: {error}", file=sys.stderr)
        return 1
    if not isinstance(sections, dict):
        print(f"carec-edge: {args.sections}: expected a JSON object of sections", file=sys.stderr)
        return 1
    version = desk.set_desired(args.node, sections, operator=operator, grace_s=args.grace_s)
    print(f"{args.node}: desired configuration version {version} queued")
    return 0
