"""`carec-edge centre ...`: the national centre (`centre run`, what systemd runs beside the
CIS), its config check, and API tokens for the CIS's clients."""

from __future__ import annotations

import argparse
import secrets
import sys
from pathlib import Path
from typing import Any

from centre.config import DEFAULT_CENTRE_CONFIG, CentreConfig, load_centre_config, token_sha256
from edge.cli import centre_fleet_cmd, centre_report_cmd, centre_rollout_cmd, centre_updates_cmd
from edge.cli.context import CliContext
from edge.logs import setup_logging


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "centre", help="the national centre: run it, check its config, make API tokens"
    )
    commands = parser.add_subparsers(dest="centre_command", required=True, metavar="COMMAND")
    run = commands.add_parser("run", help="run the centre until SIGTERM")
    check = commands.add_parser("check", help="check a centre config file and say what is wrong")
    for sub in (run, check):
        sub.add_argument(
            "--config", dest="centre_config", type=Path, default=DEFAULT_CENTRE_CONFIG,
            help=f"the centre's TOML config (default {DEFAULT_CENTRE_CONFIG})",
        )  # fmt: skip
    exchange = commands.add_parser(
        "exchange", help="exchange signed bundles with a SIE partner now (by hand, not waiting "
        "for the schedule): read what it left, write what it has not confirmed",
    )  # fmt: skip
    exchange.add_argument("partner", help="the partner's country, e.g. CN")
    exchange.add_argument(
        "--config", dest="centre_config", type=Path, default=DEFAULT_CENTRE_CONFIG
    )
    exchange.set_defaults(handler=exchange_command)
    run.set_defaults(handler=run_command)
    check.set_defaults(handler=check_command)
    operator = commands.add_parser(
        "operator", help="add an operator of the centre's console (asks for the password)"
    )
    operator.add_argument("login")
    operator.add_argument(
        "--role", choices=["operator", "viewer", "fleet", "auditor"], default="operator",
        help="operator: acts on records; viewer: reads them; fleet: acts on boxes; auditor: "
        "reads the fleet and the audit",
    )  # fmt: skip
    operator.add_argument("--language", default="en")
    operator.add_argument(
        "--password-stdin", action="store_true",
        help="read the password from stdin (scripts, the demo)",
    )  # fmt: skip
    operator.add_argument(
        "--config", dest="centre_config", type=Path, default=DEFAULT_CENTRE_CONFIG
    )
    operator.set_defaults(handler=operator_command)
    token = commands.add_parser(
        "token", help="a new API token for a CIS client: the token, and the hash for the config"
    )
    token.set_defaults(handler=token_command)
    centre_fleet_cmd.register_centre(commands, DEFAULT_CENTRE_CONFIG)  # `centre fleet ...`
    # `centre updates ...`: the TUF repository's verbs, and the rollouts' (`updates rollout ...`)
    updates = centre_updates_cmd.register_centre(commands, DEFAULT_CENTRE_CONFIG)
    centre_rollout_cmd.add_rollout_parsers(updates)
    centre_report_cmd.register_centre(commands, DEFAULT_CENTRE_CONFIG)  # `centre report`


def _config(args: argparse.Namespace) -> CentreConfig:
    return load_centre_config(args.centre_config)


def run_command(args: argparse.Namespace, _context: CliContext) -> int:
    from centre.service import run_centre  # uvicorn and the API only when running

    config = _config(args)
    setup_logging("INFO")
    return run_centre(config)


def check_command(args: argparse.Namespace, _context: CliContext) -> int:
    config = _config(args)
    print(f"{args.centre_config}: ok ({config.centre.id}, {len(config.routing)} offices routed, "
          f"{len(config.api.clients)} API clients)")  # fmt: skip
    return 0


def token_command(_args: argparse.Namespace, _context: CliContext) -> int:
    token = secrets.token_urlsafe(32)
    print(f"token (give it to the client, once): {token}", file=sys.stdout)
    print(f'token_sha256 = "{token_sha256(token)}"  # for [[api.clients]] in the config')
    return 0


def operator_command(args: argparse.Namespace, _context: CliContext) -> int:
    import getpass

    from centre.console.operators import OperatorError, add_operator
    from centre.store import open_centre_database

    config = _config(args)
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = getpass.getpass(f"password for {args.login}: ")
        if password != getpass.getpass("again: "):
            print("the two passwords differ; nothing changed", file=sys.stderr)
            return 1
    engine = open_centre_database(config.centre.database)
    try:
        added = add_operator(engine, args.login, password, args.role, language=args.language)
    except OperatorError as error:
        print(error, file=sys.stderr)
        return 1
    finally:
        engine.dispose()
    print(f"operator {added.login} ({added.role.value}) added")
    return 0


def exchange_command(args: argparse.Namespace, _context: CliContext) -> int:
    from centre.service import CentreService

    config = _config(args)
    partners = [p for p in config.partners if p.country == args.partner and p.mode == "sie"]
    if not partners:
        print(f"carec-edge: no SIE partner {args.partner!r} in {args.centre_config}",
              file=sys.stderr)  # fmt: skip
        return 2
    service = CentreService.build(config)
    try:
        written, read = service.exchange_bundles(partners[0])
    finally:
        service.engine.dispose()
    print(f"read {read} bundle(s) from {partners[0].bundle_in}; "
          + (f"wrote {written}" if written else "nothing to write"))  # fmt: skip
    return 0
