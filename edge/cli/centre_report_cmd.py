"""`carec-edge centre report --month 2026-11 (--post NODE | --link CC) -o FILE.pdf`: the
monthly analytics report the console offers, made from the centre's database on the command
line (a cron job, a mail to the ministry); `--csv TABLE` writes one of the pages' tables as CSV
instead (posts, links, modes, days, lanes, discrepancies)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext

TABLES = ("posts", "links", "modes", "days", "lanes", "discrepancies")  # tables.TABLE_NAMES


def register_centre(commands: Any, default_config: Path) -> None:
    report: argparse.ArgumentParser = commands.add_parser(
        "report", help="the monthly analytics report of a post or a partner link (PDF), or a "
        "table of it (CSV)",
    )  # fmt: skip
    report.add_argument("--config", dest="centre_config", type=Path, default=default_config)
    report.add_argument("--month", required=True, help="the month, e.g. 2026-11")
    scope = report.add_mutually_exclusive_group()
    scope.add_argument("--post", help="a post's box, e.g. KZ-NURZHOLY-1")
    scope.add_argument("--link", help="a partner link by its country, e.g. KG")
    report.add_argument("--csv", choices=TABLES, help="write this table as CSV instead")
    report.add_argument("--language", default="en", help="the report's language (en, ru)")
    report.add_argument("-o", "--output", type=Path, required=True, help="the file to write")
    report.set_defaults(handler=report_command)


def report_command(args: argparse.Namespace, _context: CliContext) -> int:
    from centre.analytics.collect import Period, PeriodError, compute
    from centre.analytics.export import to_csv
    from centre.analytics.links import links_of_config
    from centre.analytics.report import monthly_report
    from centre.analytics.tables import table_named
    from centre.config import load_centre_config
    from centre.console.i18n import Catalogs
    from centre.store import open_centre_database

    if args.csv is None and (args.post is None) == (args.link is None):
        print("carec-edge: name --post NODE or --link COUNTRY for a PDF report", file=sys.stderr)
        return 2
    config = load_centre_config(args.centre_config)
    try:
        period = Period.month(args.month)
    except PeriodError as error:
        print(f"carec-edge: --month: {error}", file=sys.stderr)
        return 2
    engine = open_centre_database(config.centre.database)
    try:
        analytics = compute(engine, period, config.centre.id, links_of_config(config.partners))
    finally:
        engine.dispose()
    if args.csv is not None:
        data = to_csv(table_named(analytics, args.csv, args.post, args.link)).encode("utf-8")
    else:
        translations = Catalogs().gettext(args.language)
        data = monthly_report(analytics, post=args.post, link=args.link, translations=translations)
    args.output.write_bytes(data)
    print(f"{args.output}: {len(data)} bytes, {len(analytics.posts())} post(s) in {period.label}")
    return 0
