"""`carec-edge update fetch --from URL|DIR TARGET --to DIR [--force]`: fetch a bundle the
centre's TUF metadata vouches for, over HTTPS with the box's certificate or from a USB stick,
into a directory; exit 3 with the reason when it is refused (the metadata the box trusts is
under <data dir>/tuf/metadata, seeded from the image's root)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext


def add_parser(actions: Any) -> None:
    """Add `fetch` to `update`'s verbs (edge.cli.update_cmd calls it)."""
    fetch: argparse.ArgumentParser = actions.add_parser(
        "fetch", help="fetch and verify a bundle (TUF) from the centre or a USB stick"
    )
    fetch.add_argument("target", metavar="TARGET", help="the bundle's target name")
    fetch.add_argument("--from", dest="source", required=True, metavar="URL|DIR",
                       help="https://CENTRE:PORT/updates/v1, or a stick's directory")  # fmt: skip
    fetch.add_argument("--to", dest="to", type=CliContext.path_arg, required=True, metavar="DIR")
    fetch.add_argument("--ca-file", type=CliContext.path_arg, default=None,
                       help="the CA of the centre's update listener (default: [fleet] "
                       "centre_ca_file, else the identity's ca-bundle.pem)")  # fmt: skip
    fetch.add_argument("--force", action="store_true",
                       help="take a version that is not newer than the running one")  # fmt: skip
    fetch.set_defaults(handler=fetch_command)


def fetch_command(args: argparse.Namespace, context: CliContext) -> int:
    from provisioning.update.tuf_client import (
        BoxTrust,
        DirectorySource,
        UpdateRefused,
        UpdateSource,
        centre_source,
        fetch_target,
    )

    source: UpdateSource
    if args.source.startswith("https://"):
        config = context.config
        ca = args.ca_file or (Path(config.fleet.centre_ca_file) if config.fleet.centre_ca_file
                              else None)  # fmt: skip
        source = centre_source(args.source, config.sync.identity_dir, ca)
    elif "://" in args.source:
        print("carec-edge: --from takes an https:// URL or a directory", file=sys.stderr)
        return 2
    else:
        source = DirectorySource(Path(args.source))
    trust = BoxTrust.under(context.data_dir)
    try:
        got = fetch_target(source, args.target, args.to, trust=trust, force=args.force)
    except UpdateRefused as refused:
        print(f"carec-edge: refused: {refused.reason}", file=sys.stderr)
        return 3
    print(f"{got.path}: version {got.version}, {got.length} bytes, sha256 {got.sha256}")
    return 0
