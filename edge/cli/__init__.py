"""The `carec-edge` command line: part of the wiring, so it may import every room.

Each command group lives in its own module with a `register(subparsers)` function that adds its
parser and sets `handler`, a function `(args, context) -> exit status`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from drivers.registry import DeviceConfigError
from edge import __version__
from edge.cli import (
    codes_cmd,
    config_cmd,
    demo_cmd,
    devices_cmd,
    identity_cmd,
    kiosk_cmd,
    manifests_cmd,
    match_cmd,
    mrz_cmd,
    plates_cmd,
    run_cmd,
    sim_cmd,
    sync_cmd,
)
from edge.cli.context import CliContext
from edge.config import ConfigError
from edge.logs import setup_logging

COMMAND_MODULES = (
    codes_cmd,
    config_cmd,
    demo_cmd,
    devices_cmd,
    identity_cmd,
    kiosk_cmd,
    manifests_cmd,
    match_cmd,
    mrz_cmd,
    plates_cmd,
    run_cmd,
    sim_cmd,
    sync_cmd,
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


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    # Commands log warnings (a quarantined message, a rejected reading) as structured lines on
    # stderr; `run` sets up its own logging from the config.
    setup_logging("WARNING")
    context = CliContext(config_path=args.config, data_dir_option=args.data_dir)
    try:
        status: int = args.handler(args, context)
    except ConfigError as error:
        print(f"carec-edge: bad config {error}", file=sys.stderr)
        return 2
    except DeviceConfigError as error:
        print(f"carec-edge: bad device config: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return status
