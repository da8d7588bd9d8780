"""`carec-edge centre updates ...`: the centre's TUF repository of update bundles ([updates] in
the centre's config, or `--repository DIR --keys-dir DIR`, e.g. a build's), signed with the
role keys in its keys directory.

    init [--root-keys N --root-threshold T]     new keys and metadata (once)
    publish BUNDLE --version V [--name N]       add a bundle; sign targets, snapshot, timestamp
    refresh [--valid-days D]                    re-sign the timestamp (and what nears its end)
    rotate-root [--keys N --threshold T] [--online ROLE]...   a new root (and online keys)
    status [--json]                             versions, expiries, keys here, the bundles
    export-usb DIR [--target N]... [--valid-days D]   a USB stick a box verifies the same way

Other modules add verbs to the same group (`centre updates rollout ...`): `register_centre`
returns the group's subparsers; each added verb sets its own `handler`.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

from edge.cli.context import CliContext

if TYPE_CHECKING:
    from centre.updates.tuf_repository import TufRepository


def register_centre(commands: Any, default_config: Path) -> Any:
    """Add `updates` to `centre`'s commands; the verbs' subparsers, for more verbs."""
    updates: argparse.ArgumentParser = commands.add_parser(
        "updates", help="update bundles: the signed TUF metadata boxes verify, and rollouts"
    )
    updates.add_argument("--config", dest="centre_config", type=Path, default=default_config)
    updates.add_argument("--repository", type=CliContext.path_arg, default=None,
                         help="a repository directory instead of the config's (with "
                         "--keys-dir; default expiries), e.g. a build's")  # fmt: skip
    updates.add_argument("--keys-dir", type=CliContext.path_arg, default=None)
    actions = updates.add_subparsers(dest="updates_action", required=True, metavar="ACTION")
    init = actions.add_parser("init", help="create the repository and its role keys (once)")
    init.add_argument("--root-keys", type=int, default=1, help="root keys (default 1)")
    init.add_argument("--root-threshold", type=int, default=1,
                      help="root signatures a new root needs (default 1)")  # fmt: skip
    publish = actions.add_parser("publish", help="add a bundle for the boxes")
    publish.add_argument("bundle", type=CliContext.path_arg, metavar="BUNDLE")
    publish.add_argument("--version", required=True, help="its IMAGE_VERSION")
    publish.add_argument("--name", default=None, help="target name (default: the file's)")
    refresh = actions.add_parser("refresh", help="re-sign the timestamp now")
    rotate = actions.add_parser("rotate-root", help="new root keys; boxes follow the chain")
    rotate.add_argument("--keys", type=int, default=1, help="new root keys (0: keep them)")
    rotate.add_argument("--threshold", type=int, default=1)
    rotate.add_argument("--online", action="append", default=[],
                        choices=["targets", "snapshot", "timestamp"],
                        help="also give this role a new key (repeat; after a leak)")  # fmt: skip
    status = actions.add_parser("status", help="metadata versions, expiries and bundles")
    status.add_argument("--json", action="store_true")
    export = actions.add_parser("export-usb", help="lay out a USB stick for offline boxes")
    export.add_argument("directory", type=CliContext.path_arg, metavar="DIR")
    export.add_argument("--target", action="append", default=None,
                        help="a bundle to carry (repeat; default: all)")  # fmt: skip
    for sub in (refresh, export):
        sub.add_argument(
            "--valid-days", type=float, default=None,
            help="sign timestamp and snapshot valid this long first (boxes offline that long)",
        )  # fmt: skip
    for sub, handler in ((init, _init), (publish, _publish), (refresh, _refresh),
                         (rotate, _rotate), (status, _status), (export, _export)):  # fmt: skip
        sub.set_defaults(handler=_guarded(handler))
    return actions


def _guarded(handler: Any) -> Any:
    def run(args: argparse.Namespace, _context: CliContext) -> int:
        from centre.config import load_centre_config
        from centre.updates.tuf_keys import RoleKeyError
        from centre.updates.tuf_repository import RepositoryError, TufRepository, repository_of

        repository: TufRepository
        if args.repository is not None or args.keys_dir is not None:
            if args.repository is None or args.keys_dir is None:
                print("carec-edge: --repository and --keys-dir go together", file=sys.stderr)
                return 2
            repository = TufRepository(args.repository, args.keys_dir)
        else:
            config = load_centre_config(args.centre_config)
            if config.updates is None:
                print(f"carec-edge: no [updates] in {args.centre_config}", file=sys.stderr)
                return 2
            repository = repository_of(config.updates)
        try:
            code: int = handler(args, repository)
        except (RepositoryError, RoleKeyError, OSError, ValueError) as error:
            print(f"carec-edge: {error}", file=sys.stderr)
            return 1
        return code

    return run


def _init(args: argparse.Namespace, repository: TufRepository) -> int:
    made = type(repository).init(
        repository.directory, repository.keys_dir, repository.expiry,
        root_keys=args.root_keys, root_threshold=args.root_threshold,
    )  # fmt: skip
    print(f"repository in {made.directory}; keys in {made.keys_dir} (keep the root keys "
          f"offline); the image's root: {made.metadata_dir / 'root.json'}")  # fmt: skip
    return 0


def _publish(args: argparse.Namespace, repository: TufRepository) -> int:
    target = repository.publish(args.bundle, version=args.version, name=args.name)
    print(f"published {target.name} {target.version} ({target.length} bytes, "
          f"sha256 {target.sha256})")  # fmt: skip
    return 0


def _refresh(args: argparse.Namespace, repository: TufRepository) -> int:
    signed = repository.refresh(valid_for=_days(args.valid_days))
    print("signed: " + ", ".join(signed))
    return 0


def _rotate(args: argparse.Namespace, repository: TufRepository) -> int:
    version = repository.rotate_root(
        new_keys=args.keys, threshold=args.threshold, online=args.online
    )
    print(f"root version {version}; the keys replaced are in {repository.keys_dir / 'retired'}")
    return 0


def _status(args: argparse.Namespace, repository: TufRepository) -> int:
    roles, targets = repository.status(), repository.targets()
    if args.json:
        print(json.dumps({
            "roles": [{"role": r.role, "version": r.version, "expires": r.expires.isoformat(),
                       "keys_here": r.signers_here, "threshold": r.threshold} for r in roles],
            "targets": [t.__dict__ for t in targets],
        }, indent=1))  # fmt: skip
        return 0
    for r in roles:
        print(f"{r.role:<9} v{r.version:<4} expires {r.expires:%Y-%m-%d %H:%M}Z  "
              f"keys here {r.signers_here} (threshold {r.threshold})")  # fmt: skip
    for t in targets:
        print(f"target {t.name}  version {t.version}  {t.compatible}  {t.length} bytes")
    return 0


def _export(args: argparse.Namespace, repository: TufRepository) -> int:
    if args.valid_days is not None:
        repository.refresh(valid_for=_days(args.valid_days))
    carried = repository.export(args.directory, args.target)
    print(f"{args.directory}: metadata and {len(carried)} bundle(s): {', '.join(carried)}")
    return 0


def _days(days: float | None) -> dt.timedelta | None:
    if days is None:
        return None
    if not 0 < days <= 366:
        raise ValueError("--valid-days: between 0 and 366")
    return dt.timedelta(days=days)
