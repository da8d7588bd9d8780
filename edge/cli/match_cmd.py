"""`carec-edge match`: which pre-arrival records fit a truck, best first, with discrepancies.

`--confidence` applies to the `--plate` or `--trailer` just before it, so a camera's candidates
are given as `--plate A777BC02 --confidence 0.9 --plate A777BC62 --confidence 0.4`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from edge.cli.context import CliContext
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher, Observation, PlatePosition, PlateRead
from edge.timeutil import parse_utc


class _AddRead(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        position: PlatePosition | None = "trailer" if self.dest == "trailer" else None
        reads: list[list[Any]] = namespace.reads or []
        reads.append([values, 1.0, position])
        namespace.reads = reads


class _SetConfidence(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: str | Sequence[Any] | None,
        option_string: str | None = None,
    ) -> None:
        if not namespace.reads:
            parser.error("--confidence must follow a --plate or --trailer")
        try:
            confidence = float(str(values))
        except ValueError:
            parser.error(f"--confidence {values}: not a number")
        if not 0.0 <= confidence <= 1.0:
            parser.error(f"--confidence {values}: must be between 0 and 1")
        namespace.reads[-1][1] = confidence


def _time(text: str) -> Any:
    try:
        return parse_utc(text)
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "match", help="match a truck to its pre-arrival records"
    )
    parser.set_defaults(reads=None)
    parser.add_argument("--plate", action=_AddRead, metavar="TEXT", help="a plate read")
    parser.add_argument(
        "--trailer", action=_AddRead, metavar="TEXT", help="a plate read on the trailer"
    )
    parser.add_argument(
        "--confidence", action=_SetConfidence, metavar="C", help="of the read before, 0 to 1"
    )
    parser.add_argument("--seal", action="append", default=[], metavar="ID", help="a seal read")
    parser.add_argument(
        "--seals-checked",
        action="store_true",
        help="the seals were checked though none was read (each of a record's seals is then "
        "SEAL_MISSING); any --seal already means they were checked",
    )
    parser.add_argument("--document", metavar="NUMBER", help="the driver's document number")
    parser.add_argument(
        "--reference",
        action="append",
        default=[],
        metavar="REF",
        help="a transit document scanned: MRN/ref, TIR carnet or CMR number",
    )
    parser.add_argument("--at", type=_time, help="arrival time, ISO 8601 UTC (default: now)")
    parser.add_argument("--json", action="store_true", help="print JSON")
    parser.set_defaults(handler=match_command)


def match_command(args: argparse.Namespace, context: CliContext) -> int:
    reads = tuple(PlateRead(text, conf, pos) for text, conf, pos in args.reads or [])
    if not reads and not args.seal and not args.document and not args.reference:
        print(
            "carec-edge: give at least a --plate, --seal, --document or --reference",
            file=sys.stderr,
        )
        return 2
    seals = tuple(args.seal) if args.seal or args.seals_checked else None
    observation = Observation(reads, seals, args.document, tuple(args.reference), args.at)
    result = Matcher(ManifestCache(context.engine()), context.config.matching).match(observation)
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    for candidate in result.candidates:
        codes = ", ".join(d.code for d in candidate.discrepancies) or "no discrepancies"
        print(f"{candidate.score:.3f}  {candidate.ref}  {candidate.plate}  {codes}")
        for d in candidate.discrepancies:
            print(f"         {d.code}: {d.detail}")
    for d in result.discrepancies:
        print(f"{d.code}: {d.detail}")
    if result.ambiguous:
        print("ambiguous: the best candidates score too close; the officer must choose")
    return 0
