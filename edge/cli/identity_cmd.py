"""`carec-edge identity init` and `carec-edge ca init|issue`: node keys and a small fleet CA."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from edge.cli.context import CliContext
from provisioning.identity.ca import CA_DAYS, NODE_DAYS, init_ca, issue_file
from provisioning.identity.csr import init_node
from provisioning.identity.errors import IdentityError
from provisioning.identity.keys import encode_public_key, fingerprint
from provisioning.identity.node_id import NodeId
from provisioning.identity.profile import ca_common_name


def register(subparsers: Any) -> None:
    identity: argparse.ArgumentParser = subparsers.add_parser(
        "identity", help="this node's signing key and certificate request"
    )
    identity_actions = identity.add_subparsers(dest="action", required=True, metavar="ACTION")
    init = identity_actions.add_parser("init", help="create the node key and its CSR")
    init.add_argument("--node", required=True, help="the node id, e.g. KZ-NURZHOLY-1")
    init.add_argument("--dir", required=True, type=CliContext.path_arg, help="where to write")
    init.add_argument("--force", action="store_true", help="replace an existing key")
    init.set_defaults(handler=init_identity)

    ca: argparse.ArgumentParser = subparsers.add_parser("ca", help="a country's fleet CA")
    ca_actions = ca.add_subparsers(dest="action", required=True, metavar="ACTION")
    ca_init = ca_actions.add_parser("init", help="create a CA key and certificate")
    ca_init.add_argument("--country", required=True, help="ISO 3166-1 alpha-2, e.g. KZ")
    ca_init.add_argument("--dir", required=True, type=CliContext.path_arg)
    ca_init.add_argument("--days", type=int, default=CA_DAYS, help=f"default {CA_DAYS}")
    ca_init.set_defaults(handler=init_authority)

    issue = ca_actions.add_parser("issue", help="issue a node certificate for a CSR")
    issue.add_argument("csr", type=CliContext.path_arg, metavar="CSR")
    issue.add_argument("--dir", required=True, type=CliContext.path_arg, help="the CA's dir")
    issue.add_argument("--days", type=int, default=NODE_DAYS, help=f"default {NODE_DAYS}")
    issue.add_argument(
        "--server",
        action="append",
        default=[],
        metavar="NAME",
        help="also a TLS server certificate for this host name or IP (repeatable)",
    )
    issue.add_argument("--out", type=CliContext.path_arg, help="default: node.crt beside the CSR")
    issue.set_defaults(handler=issue_certificate)


def init_identity(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        files = init_node(NodeId.parse(args.node), args.dir, force=args.force)
    except IdentityError as error:
        return _fail(error)
    print(f"{files.node_id}: key {files.key}, fingerprint {files.fingerprint.short}")
    print(f"sha256 {files.fingerprint.hex}")
    print(f"public key {encode_public_key(files.public_key)}")
    print(f"CSR {files.csr}")
    return 0


def init_authority(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        files = init_ca(args.country, args.dir, days=args.days)
    except IdentityError as error:
        return _fail(error)
    not_after = files.ca.certificate.not_valid_after_utc
    key = fingerprint(files.ca.key.public_key())
    print(
        f"{ca_common_name(files.ca.country)}: {files.certificate}, valid until {not_after:%Y-%m-%d}"
    )
    print(f"key {files.key}, fingerprint {key.short}")
    return 0


def issue_certificate(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        issued = issue_file(args.dir, args.csr, out=args.out, days=args.days, servers=args.server)
    except IdentityError as error:
        return _fail(error)
    certificate = issued.certificate
    print(f"{issued.node_id}: {issued.path}")
    print(
        f"serial {certificate.serial_number:x}, "
        f"valid until {certificate.not_valid_after_utc:%Y-%m-%d}"
    )
    return 0


def _fail(error: IdentityError) -> int:
    print(f"carec-edge: {error}", file=sys.stderr)
    return 1
