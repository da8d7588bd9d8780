"""`carec-edge assessment report SCORES.csv [--json] [--thresholds FILE.toml]`: the IE
assessment's averages, areas at risk and pair classification (`centre.assessment`), from a
score sheet alone: no database, no config."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from centre.assessment.csv_import import MAX_BYTES, AssessmentCsvError, read_scores_file
from centre.assessment.report import build_report, report_json, report_text
from centre.assessment.thresholds import Thresholds, load_thresholds
from edge.cli.context import CliContext
from edge.config import ConfigError


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "assessment", help="the IE Assessment Framework: which country pairs are ready for SIE/CIE"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    report = actions.add_parser(
        "report", help="averages, areas at risk and each pair's candidacy from a CSV of scores"
    )
    report.add_argument("scores", type=Path, metavar="SCORES.csv")
    report.add_argument("--json", action="store_true", help="print JSON instead of tables")
    report.add_argument(
        "--thresholds", type=Path, metavar="FILE.toml",
        help="minimum scores per area (default: centre/assessment/data/thresholds-default.toml)",
    )  # fmt: skip
    report.set_defaults(handler=print_report)


def print_report(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        thresholds = load_thresholds(args.thresholds) if args.thresholds else Thresholds()
    except ConfigError as error:
        print(f"carec-edge assessment: bad thresholds {error}", file=sys.stderr)
        return 2
    try:
        with args.scores.open("rb") as stream:
            data = stream.read(MAX_BYTES + 1)
    except OSError as error:
        print(f"carec-edge assessment: {args.scores}: {error.strerror or error}", file=sys.stderr)
        return 2
    try:
        assessment = read_scores_file(str(args.scores), data)
    except AssessmentCsvError as error:
        print(f"carec-edge assessment: bad scores in {error.source}:", file=sys.stderr)
        for problem in error.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    report = build_report(assessment, thresholds)
    if args.json:
        print(json.dumps(report_json(report), ensure_ascii=False, indent=2))
    else:
        sys.stdout.write(report_text(report))
    return 0
