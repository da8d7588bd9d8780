"""`carec-edge config check FILE`: validate a config file and name every bad key.

The check asks what `carec-edge run` asks before it starts (edge.cli.preflight), so a file that
passes it starts: the models' bounds, the devices, the kiosk's language, the data directory and
sync's files.
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edge.cli.context import CliContext
from edge.cli.preflight import config_problems
from edge.config import ConfigError, load_config


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("config", help="the config file")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser("check", help="validate a config file")
    check.add_argument("file", type=CliContext.path_arg)
    check.set_defaults(handler=check_config)


def check_config(args: argparse.Namespace, context: CliContext) -> int:
    try:
        config = load_config(args.file)
    except ConfigError as error:
        for problem in error.problems:
            print(f"{error.path}: {problem}", file=sys.stderr)
        return 1
    problems = config_problems(config, context.data_dir_option or config.store.data_dir)
    for problem in problems:
        print(f"{args.file}: {problem}", file=sys.stderr)
    if problems:
        return 1
    print(f"{args.file}: ok")
    return 0
