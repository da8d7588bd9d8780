"""`carec-edge manifests import|purge|show`: the e-manifest cache from the command line."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext
from edge.manifest_cache import ManifestCache
from edge.manifest_import import Reject, import_files
from edge.timeutil import utcnow


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "manifests", help="the pre-arrival e-manifest cache"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")

    imp = actions.add_parser("import", help="import JSON Lines files of the e-manifest contract")
    imp.add_argument("files", type=Path, nargs="+", metavar="FILE")
    imp.set_defaults(handler=import_command)

    purge = actions.add_parser("purge", help="delete records past the retention")
    purge.add_argument(
        "--days", type=int, help="retention in days after expected arrival (default: config)"
    )
    purge.set_defaults(handler=purge_command)

    show = actions.add_parser("show", help="print the stored records of a reference as JSON")
    show.add_argument("ref")
    show.set_defaults(handler=show_command)


def import_command(args: argparse.Namespace, context: CliContext) -> int:
    cache = ManifestCache(context.engine())

    def on_reject(reject: Reject) -> None:
        print(f"rejected {reject}", file=sys.stderr)

    def on_progress(file: str, records: int) -> None:
        print(f"{file}: {records} records read", file=sys.stderr, flush=True)

    try:
        summary = import_files(cache, args.files, on_reject=on_reject, on_progress=on_progress)
    except (KeyboardInterrupt, SystemExit):  # Ctrl-C, SIGTERM: the workers have stopped
        print(
            "carec-edge: import interrupted; the records stored so far stay, and importing the"
            " files again completes it",
            file=sys.stderr,
        )
        raise
    stored = summary.stored
    print(
        f"imported {summary.imported}, rejected {summary.rejected} "
        f"(new {stored.inserted}, replaced {stored.replaced}, unchanged or older {stored.ignored})"
    )
    return 1 if summary.rejected else 0


def purge_command(args: argparse.Namespace, context: CliContext) -> int:
    days = args.days if args.days is not None else context.config.store.retention_days
    if days < 0:
        print("carec-edge: --days must be 0 or more", file=sys.stderr)
        return 2
    cutoff = utcnow() - dt.timedelta(days=days)
    purged = ManifestCache(context.engine()).purge(cutoff)
    print(f"purged {purged} records expected before {cutoff.isoformat(timespec='seconds')}")
    return 0


def show_command(args: argparse.Namespace, context: CliContext) -> int:
    cache = ManifestCache(context.engine())
    stored = cache.get(cache.ids_by_ref(args.ref))
    for item in stored:
        print(item.record.to_json())
    if not stored:
        print(f"carec-edge: no record with ref {args.ref}", file=sys.stderr)
        return 1
    return 0
