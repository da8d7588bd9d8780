"""`carec-edge sync status|export|import`: the outbox and inbox from the command line, and
file bundles where there is no link at all."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext
from edge.manifest_cache import ManifestCache
from provisioning.identity.errors import IdentityError
from sync.bundle import BundleError, export_bundle, read_bundle
from sync.inbox import Outcome
from sync.setup import SyncParts, build_sync

IMPORT_BATCH = 500


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser("sync", help="exchange with peers")
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="queue depth, oldest age, last ack, drops")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)
    export = actions.add_parser("export", help="write what waits for a peer as a file bundle")
    export.add_argument("--peer", required=True)
    export.add_argument("--out", type=Path, required=True)
    export.set_defaults(handler=export_command)
    imp = actions.add_parser("import", help="apply a file bundle (each message once)")
    imp.add_argument("file", type=Path)
    imp.set_defaults(handler=import_command)


def _parts(context: CliContext) -> SyncParts | None:
    config = context.config
    if not config.sync.peers:
        print("carec-edge: sync is not configured (no [[sync.peers]])", file=sys.stderr)
        return None
    engine = context.engine()
    try:
        return build_sync(config.sync, config.node.id, engine, ManifestCache(engine))
    except (IdentityError, OSError, ValueError) as error:
        print(f"carec-edge: cannot load this box's identity or trust: {error}", file=sys.stderr)
        return None


def status_command(args: argparse.Namespace, context: CliContext) -> int:
    parts = _parts(context)
    if parts is None:
        return 2
    rows = [s.to_dict() for s in parts.outbox.status()]
    if args.json:
        print(json.dumps({"node": parts.signer.node_id, "queues": rows}))
        return 0
    head = ("peer", "class", "depth", "oldest", "dropped", "expired")
    print("{:<12} {:<12} {:>7} {:>9} {:>8} {:>8}  last ack".format(*head))
    for row in rows:
        oldest = "-" if row["oldest_s"] is None else f"{row['oldest_s']:.0f}s"
        print(
            f"{row['peer']:<12} {row['class']:<12} {row['depth']:>7} {oldest:>9} "
            f"{row['dropped']:>8} {row['expired']:>8}  {row['last_ack'] or '-'}"
        )
    return 0


def export_command(args: argparse.Namespace, context: CliContext) -> int:
    parts = _parts(context)
    if parts is None:
        return 2
    if args.peer not in parts.outbox.peers:
        known = ", ".join(parts.outbox.peers)
        print(f"carec-edge: no peer {args.peer!r} (the config has {known})", file=sys.stderr)
        return 2
    exported = export_bundle(parts.outbox, args.peer, args.out)
    print(f"exported {exported.messages} messages for {args.peer} to {exported.path}")
    return 0


def import_command(args: argparse.Namespace, context: CliContext) -> int:
    parts = _parts(context)
    if parts is None:
        return 2
    counts = dict.fromkeys(Outcome, 0)
    reasons: dict[str, int] = {}
    batch = []
    try:
        for item in read_bundle(args.file):
            batch.append(item)
            if len(batch) >= IMPORT_BATCH:
                _apply(parts, batch, counts, reasons)
                batch = []
        _apply(parts, batch, counts, reasons)
    except (BundleError, OSError) as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 2
    summary = ", ".join(f"{n} {o.value}" for o, n in counts.items())
    print(f"{args.file}: {summary}" + (f" ({json.dumps(reasons)})" if reasons else ""))
    return 1 if counts[Outcome.QUARANTINED] else 0


def _apply(
    parts: SyncParts, batch: list[Any], counts: dict[Outcome, int], reasons: dict[str, int]
) -> None:
    for result in parts.inbox.receive(batch) if batch else []:
        counts[result.outcome] += 1
        if result.reason:
            reasons[result.reason] = reasons.get(result.reason, 0) + 1
