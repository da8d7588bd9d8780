"""`carec-edge mrz check`: parse the MRZ lines on stdin and print every field and check as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from drivers.mrz import MrzFormatError, parse_mrz
from edge.cli.context import CliContext


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "mrz", help="machine readable zones of passports, ID cards and visas"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    check = actions.add_parser(
        "check",
        help="parse MRZ lines from stdin; exit 0 when every check digit and field is valid",
    )
    check.set_defaults(handler=check_mrz)


def check_mrz(_args: argparse.Namespace, _context: CliContext) -> int:
    try:
        result = parse_mrz(sys.stdin.read())
    except MrzFormatError as error:
        _print_json({"valid": False, "error": f"not an MRZ: {error}"})
        return 1
    _print_json(result.to_dict())
    return 0 if result.valid else 1


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
