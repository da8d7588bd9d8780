"""`carec-edge sync status|export|import`: the outbox and inbox from the command line, and
file bundles where there is no link at all."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext
from edge.config import DEFAULT_CONFIG_PATH
from edge.manifest_cache import ManifestCache
from edge.service.fleet_agent import offline_appliers
from edge.timeutil import format_utc
from provisioning.identity.errors import IdentityError
from sync.bundle import BundleError, export_bundle
from sync.bundle_import import import_bundle
from sync.setup import SyncParts, build_sync
from sync.tlog.rounds import LogRounds
from sync.tlog.store import TransparencyLog


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
    # A bundle may carry the centre's twin changes and commands: applied as the service would.
    path = context.config_path or (DEFAULT_CONFIG_PATH if DEFAULT_CONFIG_PATH.exists() else None)
    fleet = offline_appliers(config, path, engine)
    try:
        return build_sync(
            config.sync, config.node.id, engine, ManifestCache(engine), extra_appliers=fleet
        )
    except (IdentityError, OSError, ValueError) as error:
        print(f"carec-edge: cannot load this box's identity or trust: {error}", file=sys.stderr)
        return None


def status_command(args: argparse.Namespace, context: CliContext) -> int:
    parts = _parts(context)
    if parts is None:
        return 2
    rows = [s.to_dict() for s in parts.outbox.status()]
    stuck = parts.outbox.stuck()
    if args.json:
        queues = {"node": parts.signer.node_id, "queues": rows}
        print(json.dumps(queues | {"stuck": [m.to_dict() for m in stuck]}))
        return 0
    head = ("peer", "class", "depth", "oldest", "refused", "dropped", "expired")
    print("{:<12} {:<12} {:>7} {:>9} {:>8} {:>8} {:>8}  last ack".format(*head))
    for row in rows:
        oldest = "-" if row["oldest_s"] is None else f"{row['oldest_s']:.0f}s"
        print(
            f"{row['peer']:<12} {row['class']:<12} {row['depth']:>7} {oldest:>9} "
            f"{row['refused']:>8} {row['dropped']:>8} {row['expired']:>8}  {row['last_ack'] or '-'}"
        )
    if stuck:
        print(f"\nrefused by the broker, not yet taken ({len(stuck)} shown):")
        for m in stuck:
            retry = format_utc(m.retry_at) if m.retry_at else "now"
            print(
                f"  {m.id} {m.peer} {m.type} to {m.destination}: {m.reason}"
                f" ({m.refusals}x, next try {retry if m.state == 'refused' else m.state})"
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
    if context.config.sync.transparency.enabled:
        # A bundle is a sync: the log's checkpoint goes with it to the witnesses it reaches.
        rounds = LogRounds(
            TransparencyLog(parts.outbox.engine, parts.signer.node_id, parts.signer.private_key),
            parts.outbox,
            context.config.sync.transparency,
        )
        rounds.synced()
        rounds.round()
    exported = export_bundle(parts.outbox, args.peer, args.out)
    print(f"exported {exported.messages} messages for {args.peer} to {exported.path}")
    return 0


def import_command(args: argparse.Namespace, context: CliContext) -> int:
    parts = _parts(context)
    if parts is None:
        return 2
    try:
        report = import_bundle(parts.inbox, args.file)
    except (BundleError, OSError) as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 2
    reasons = f" ({json.dumps(report.reasons)})" if report.reasons else ""
    print(f"{args.file}: {report.summary()}{reasons}")
    for problem in report.problems():
        print(f"carec-edge: {problem}", file=sys.stderr)
    return 0 if report.complete else 1
