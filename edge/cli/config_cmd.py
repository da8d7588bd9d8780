"""`carec-edge config check FILE`: validate a config file and name every bad key."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from drivers.registry import DeviceConfigError, parse_devices
from edge.cli.context import CliContext
from edge.config import ConfigError, load_config


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("config", help="the config file")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a config file")
    check.add_argument("file", type=Path)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        config = load_config(args.file)
        parse_devices(config.devices)
    except ConfigError as error:
        for problem in error.problems:
            print(f"{error.path}: {problem}", file=sys.stderr)
        return 1
    except DeviceConfigError as error:
        for problem in error.problems:
            print(f"{args.file}: {problem}", file=sys.stderr)
        return 1
    print(f"{args.file}: ok")
    return 0
