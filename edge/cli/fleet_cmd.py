"""`carec-edge fleet status`: the box's view of its fleet management: enrolled or not (and
until when), the twin's desired and applied versions and state, the commands waiting, and the
last health report sent. Enrolment's own subcommands (`fleet enrol`, `fleet renew`) are
`edge.cli.enrol_cmd`'s."""

from __future__ import annotations

import argparse
import json
from typing import Any

from edge.cli import enrol_cmd
from edge.cli.context import CliContext
from edge.timeutil import format_utc
from provisioning.fleet.status import FleetStatus, fleet_status


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "fleet", help="fleet management: this box's enrolment, twin and commands"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="enrolled, twin version and state, commands")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)
    enrol_cmd.register_fleet(actions)  # `fleet enrol`, `fleet renew`


def status_command(args: argparse.Namespace, context: CliContext) -> int:
    config = context.config
    status = fleet_status(context.engine(), config.sync.identity_dir, config.fleet.report_to)
    if args.json:
        print(json.dumps({"node": config.node.id} | status.to_dict()))
        return 0
    print("\n".join(lines(config.node.id, status)))
    return 0


def _time(value: Any) -> str:
    return format_utc(value) if value is not None else "-"


def lines(node: str, status: FleetStatus) -> list[str]:
    enrolled = "no (no node.crt in the identity directory)"
    if status.enrolled:
        enrolled = f"yes, certificate valid until {_time(status.certificate_not_after)}"
        if status.certificate_problem:
            enrolled = f"yes, but the certificate cannot be read: {status.certificate_problem}"
    if status.key_rotation_pending:
        enrolled += "; a new key waits for its certificate"
    twin = f"applied version {status.twin_applied_version}"
    if status.twin_state:
        twin += f"; latest version {status.twin_desired_version}: {status.twin_state}"
    out = [
        f"node:         {node}",
        f"enrolled:     {enrolled}",
        f"reports to:   {status.report_to or '- (fleet management is off: [fleet] report_to)'}",
        f"twin:         {twin}",
        *(f"              {error}" for error in status.twin_errors),
        f"last health:  {_time(status.last_health_at)}",
        f"commands waiting: {len(status.pending_commands)}",
        *(
            f"  {c.command_id}  {c.action:<12} received {_time(c.received_at)}"
            for c in status.pending_commands
        ),
    ]
    if status.recent_commands:
        out.append("recent commands:")
        out += [
            f"  {c.command_id}  {c.action:<12} {c.state:<8} by {c.issued_by}"
            f"  finished {_time(c.finished_at)}"
            for c in status.recent_commands
        ]
    return out
