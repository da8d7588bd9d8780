"""`carec-edge centre updates rollout ...`: update rollouts from the command line, on the
centre's database and with its key (the running centre sends the commands they queue and
drives them on; `centre.updates.rollout_store`).

    start TARGET (NODE... | --all) [--version V] [--phases "1, 10%, 50%, 100%"]
          [--threshold PCT] [--min-finished N] [--timeout-minutes M]
    status [ROLLOUT] [--json]            the rollouts, or one with its phases and boxes
    pause ROLLOUT | resume ROLLOUT | abort ROLLOUT [--reason R]

With [updates] in the centre's config, TARGET is one of its repository's bundles and the
version is the bundle's; without, --version is needed. Added to `centre updates` by
`add_rollout_parsers` (the group's `--config` is the centre's)."""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import sys
from typing import TYPE_CHECKING, Any

from edge.cli.context import CliContext
from provisioning.identity.errors import IdentityError

if TYPE_CHECKING:
    from centre.config import CentreConfig
    from centre.updates.rollout_rows import RolloutDetail
    from centre.updates.rollout_store import RolloutStore

DEFAULT_PHASES = "1, 10%, 50%, 100%"
PHASES_HELP = repr(DEFAULT_PHASES).replace("%", "%%")  # argparse formats help with %


def add_rollout_parsers(subparsers: Any) -> None:
    """`rollout` and its verbs, under the `centre updates` group's subparsers."""
    rollout: argparse.ArgumentParser = subparsers.add_parser(
        "rollout", help="publish an update to boxes in phases; pause, resume, abort"
    )
    rollout.add_argument("--operator", default=None, help="who acts (default: the login name)")
    verbs = rollout.add_subparsers(dest="rollout_action", required=True, metavar="ACTION")
    start = verbs.add_parser("start", help="start a rollout; its canary is commanded at once")
    start.add_argument("target", help="the bundle's TUF target name")
    start.add_argument("nodes", nargs="*", metavar="NODE")
    start.add_argument("--all", action="store_true", help="every enrolled box")
    start.add_argument("--version", default=None, help="the bundle's version (no [updates])")
    start.add_argument("--phases", default=DEFAULT_PHASES,
                       help=f"boxes, then percentages (default {PHASES_HELP})")  # fmt: skip
    start.add_argument("--threshold", type=float, default=0.0,
                       help="halt when a phase's failed + rolled back share passes this %% "
                       "(default 0: the first failure halts)")  # fmt: skip
    start.add_argument("--min-finished", type=int, default=1,
                       help="finished boxes before a phase is judged (default 1)")  # fmt: skip
    start.add_argument("--timeout-minutes", type=float, default=None,
                       help="a box silent this long after its command fails (default: "
                       "[fleet] rollout_box_timeout_minutes)")  # fmt: skip
    status = verbs.add_parser("status", help="the rollouts, or one whole")
    status.add_argument("rollout", nargs="?", default=None)
    status.add_argument("--json", action="store_true")
    for name in ("pause", "resume", "abort"):
        verb = verbs.add_parser(name, help=f"{name} a rollout")
        verb.add_argument("rollout")
        verb.add_argument("--reason", default="", help="kept in the audit, never in logs")
    for sub in verbs.choices.values():
        sub.set_defaults(handler=rollout_command)


def rollout_command(args: argparse.Namespace, _context: CliContext) -> int:
    from centre.config import load_centre_config
    from centre.fleet.desk import FleetDesk
    from centre.updates.rollout import RolloutError
    from centre.updates.rollout_store import RolloutStore
    from edge.cli.centre_fleet_cmd import _outbox as centre_outbox

    config = load_centre_config(args.centre_config)
    operator = args.operator or getpass.getuser()
    try:
        with centre_outbox(config) as outbox:
            store = RolloutStore(
                outbox.engine, FleetDesk(outbox.engine, outbox, settings=config.fleet)
            )
            return run(args, config, store, operator)
    except RolloutError as error:
        for reason in error.reasons:
            print(f"carec-edge: {reason}", file=sys.stderr)
        return 1
    except (ValueError, IdentityError, OSError) as error:
        print(f"carec-edge: {error}", file=sys.stderr)
        return 1


def run(args: argparse.Namespace, config: CentreConfig, store: RolloutStore, operator: str) -> int:
    """A verb on the rollouts (the store given: tests hand theirs)."""
    action = args.rollout_action
    if action == "start":
        rollout_id = _start(args, config, store, operator)
        print(rollout_id)
        return 0
    if action == "status":
        return _status(args, store)
    state = store.operate(args.rollout, action, operator=operator, reason=args.reason)
    print(f"{args.rollout}: {state}")
    return 0


def _start(
    args: argparse.Namespace, config: CentreConfig, store: RolloutStore, operator: str
) -> str:
    from centre.updates.rollout import RolloutError, parse_phases

    version = args.version
    if config.updates is not None:
        from centre.updates.tuf_repository import repository_of

        published = {t.name: t.version for t in repository_of(config.updates).targets()}
        if args.target not in published:
            raise RolloutError([f"target: {args.target!r} is not a bundle of the repository "
                                "(`centre updates status` lists them)"])  # fmt: skip
        if version not in (None, published[args.target]):
            raise RolloutError([f"version: {version}; the repository's {args.target} is "
                                f"{published[args.target]}"])  # fmt: skip
        version = published[args.target]
    if version is None:
        raise RolloutError(["version: --version is needed without [updates] in the config"])
    if args.all == bool(args.nodes):
        raise RolloutError(["boxes: name them, or --all (not both)"])
    nodes = args.nodes or [b.node_id for b in store.desk.boxes() if b.state == "enrolled"]
    timeout = (
        dt.timedelta(minutes=args.timeout_minutes) if args.timeout_minutes is not None else None
    )
    return store.start(
        args.target, version, nodes, parse_phases(args.phases), operator=operator,
        threshold=args.threshold / 100, min_finished=args.min_finished, box_timeout=timeout,
    )  # fmt: skip


def _status(args: argparse.Namespace, store: RolloutStore) -> int:
    if args.rollout is None:
        rows = store.rollouts()
        if args.json:
            print(json.dumps([_summary(r) for r in rows], indent=1))
            return 0
        for r in rows:
            print(f"{r.rollout_id}  {r.state:<8} phase {r.phase + 1}/{len(r.phases)}  "
                  f"{r.target} ({r.version})  {r.reason}")  # fmt: skip
        return 0
    detail = store.detail(args.rollout)
    if detail is None:
        print(f"carec-edge: rollout {args.rollout}: no such rollout", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(_whole(detail), indent=1))
        return 0
    r = detail.rollout
    print(f"{r.rollout_id}  {r.target} ({r.version})  {r.state}  threshold {r.threshold:.0%}")
    if r.reason:
        print(f"  {r.reason}")
    for p in detail.phases:
        counts = ", ".join(f"{state} {n}" for state, n in sorted(p.counts.items()))
        mark = "*" if p.index == r.phase else " "
        print(f"{mark} phase {p.index + 1} ({p.label}): {p.boxes} boxes: {counts or '-'}")
    for b in detail.boxes:
        print(f"  {b.node_id:<24} phase {b.phase + 1}  {b.state:<11} {b.reason}")
    return 0


def _summary(r: Any) -> dict[str, Any]:
    return {
        "rollout": r.rollout_id, "target": r.target, "version": r.version, "state": r.state,
        "phase": r.phase + 1, "phases": [p.label() for p in r.phases], "threshold": r.threshold,
        "reason": r.reason, "created_by": r.created_by, "created_at": r.created_at.isoformat(),
    }  # fmt: skip


def _whole(detail: RolloutDetail) -> dict[str, Any]:
    return _summary(detail.rollout) | {
        "progress": [{"phase": p.index + 1, "counts": p.counts} for p in detail.phases],
        "boxes": [
            {"node": b.node_id, "phase": b.phase + 1, "state": b.state, "reason": b.reason,
             "since": b.updated_at.isoformat()}
            for b in detail.boxes
        ],
    }  # fmt: skip
