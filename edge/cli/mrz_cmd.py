"""`carec-edge mrz check`: parse the MRZ lines on stdin and print every field and check as JSON."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from drivers.mrz import MrzFormatError, parse_mrz
from edge.cli.context import CliContext

# An MRZ is two or three lines of at most 44 characters; this leaves room for blank lines and
# a scanner's framing, and is read no further (stdin may be /dev/zero).
MAX_MRZ_BYTES = 4096


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
    # The bytes, where stdin has them (a text stream given in their place is read as text).
    stream = getattr(sys.stdin, "buffer", sys.stdin)
    raw: bytes | str = stream.read(MAX_MRZ_BYTES + 1)
    if len(raw) > MAX_MRZ_BYTES:
        _print_json({"valid": False, "error": f"stdin: more than {MAX_MRZ_BYTES} bytes, no MRZ"})
        return 1
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
    except UnicodeDecodeError as error:
        _print_json({"valid": False, "error": f"stdin: not UTF-8 text (byte {error.start})"})
        return 1
    try:
        result = parse_mrz(text)
    except MrzFormatError as error:
        _print_json({"valid": False, "error": f"not an MRZ: {error}"})
        return 1
    _print_json(result.to_dict())
    return 0 if result.valid else 1


def _print_json(data: dict[str, Any]) -> None:
    print(json.dumps(data, ensure_ascii=False, indent=2))
