"""The `carec-edge` command line: part of the wiring, so it may import every room.

Each command group lives in its own module with a `register(subparsers)` function that adds its
parser and sets `handler`, a function `(args, context) -> exit status`.
"""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from drivers.registry import DeviceConfigError
from edge import __version__
from edge.cli import (
    assessment_cmd,
    centre_cmd,
    codes_cmd,
    config_cmd,
    demo_cmd,
    devices_cmd,
    fleet_cmd,
    identity_cmd,
    kiosk_cmd,
    log_cmd,
    manifests_cmd,
    match_cmd,
    mrz_cmd,
    plates_cmd,
    run_cmd,
    sim_cmd,
    sync_cmd,
    update_cmd,
)
from edge.cli.context import CliContext
from edge.cli.preflight import DataDirError
from edge.config import ConfigError
from edge.logs import setup_logging

COMMAND_MODULES = (
    assessment_cmd,
    centre_cmd,
    codes_cmd,
    config_cmd,
    demo_cmd,
    devices_cmd,
    fleet_cmd,
    identity_cmd,
    kiosk_cmd,
    log_cmd,
    manifests_cmd,
    match_cmd,
    mrz_cmd,
    plates_cmd,
    run_cmd,
    sim_cmd,
    sync_cmd,
    update_cmd,
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="carec-edge", description="The border box of a CAREC road crossing point."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--config",
        type=CliContext.path_arg,
        help="the TOML config file (default /etc/carec-edge/carec-edge.toml when it exists)",
    )
    parser.add_argument(
        "--data-dir",
        type=CliContext.path_arg,
        help="where the store lives (default: store.data_dir of the config, /var/lib/carec-edge)",
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for module in COMMAND_MODULES:
        module.register(subparsers)
    return parser


def _exit_on_sigterm(signum: int, _frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # SIGTERM ends a command as Ctrl-C would, through its `finally` blocks: an import stops its
    # worker processes, a store closes its transaction. `run` sets its own handlers.
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _exit_on_sigterm)
    # Commands log warnings (a quarantined message, a rejected reading) as structured lines on
    # stderr; `run` sets up its own logging from the config.
    setup_logging("WARNING")
    context = CliContext(config_path=args.config, data_dir_option=args.data_dir)
    try:
        if args.config is not None:
            context.config  # noqa: B018  a config given is read, even by a command that needs none of it
        status: int = args.handler(args, context)
    except ConfigError as error:
        print(f"carec-edge: bad config {error}", file=sys.stderr)
        return 2
    except DeviceConfigError as error:
        print(f"carec-edge: bad device config: {error}", file=sys.stderr)
        return 2
    except DataDirError as error:
        print(f"carec-edge: data directory {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
