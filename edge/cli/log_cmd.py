"""`carec-edge log ...`: this node's transparency log (sync.tlog) from the command line: its
state, a checkpoint now, evidence for one message, a checkpoint chain, a whole export, and the
offline check of any of them (`log verify`, which needs no config and no database: what an
auditor runs). `--centre CONFIG` works on the centre's log instead of the box's."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from edge.cli.context import CliContext
from edge.store.schema import tlog_alerts
from edge.timeutil import format_utc
from provisioning.identity.keys import load_private_key
from sync.tlog.evidence import (
    CHAIN_FORMAT,
    PROOF_FORMAT,
    EvidenceError,
    chain,
    prove,
    verify_chain_document,
    verify_proof,
    witness_vkey,
)
from sync.tlog.export import export_log, verify_export
from sync.tlog.store import LogError, TransparencyLog


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "log", help="the transparency log: status, checkpoints, proofs, export, offline verify"
    )
    parser.add_argument(
        "--centre", dest="centre_config", type=Path, metavar="CONFIG",
        help="the centre's log (its TOML config) instead of this box's",
    )  # fmt: skip
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    status = actions.add_parser("status", help="size, queue, latest checkpoint, cosigners, alerts")
    status.add_argument("--json", action="store_true")
    status.set_defaults(handler=status_command)
    checkpoint = actions.add_parser("checkpoint", help="integrate what is queued and sign now")
    checkpoint.set_defaults(handler=checkpoint_command)
    key = actions.add_parser("key", help="print the log's verifier key (give it to auditors)")
    key.add_argument(
        "--witness", action="store_true",
        help="this node's key as a witness (what verifies its cosignatures of others' logs)",
    )  # fmt: skip
    key.set_defaults(handler=key_command)
    proof = actions.add_parser("prove", help="write the inclusion proof of one message")
    proof.add_argument("message_id")
    proof.add_argument("-o", "--output", type=Path, help="the file (default: stdout)")
    proof.set_defaults(handler=prove_command)
    chained = actions.add_parser("chain", help="write the checkpoints with consistency proofs")
    chained.add_argument("--since", type=int, default=0, help="from this size on")
    chained.add_argument("-o", "--output", type=Path, help="the file (default: stdout)")
    chained.set_defaults(handler=chain_command)
    export = actions.add_parser("export", help="write the whole log to a directory")
    export.add_argument("directory", type=Path)
    export.set_defaults(handler=export_command)
    verify = actions.add_parser(
        "verify", help="check a proof file, a chain file or an export directory, offline"
    )
    verify.add_argument("path", type=Path)
    keys = verify.add_mutually_exclusive_group()
    keys.add_argument("--log-key", help="the log's verifier key (name+id+key)")
    keys.add_argument("--log-key-file", type=Path)
    verify.add_argument(
        "--witness-key", action="append", default=[],
        help="a witness's cosignature key that must have cosigned (repeat for several)",
    )  # fmt: skip
    verify.add_argument("--envelope", type=Path, help="the envelope's file: its hash must match")
    verify.add_argument("--json", action="store_true")
    verify.set_defaults(handler=verify_command)


@dataclass(frozen=True)
class NodeLog:
    log: TransparencyLog
    engine: Engine


def _open(args: argparse.Namespace, context: CliContext) -> NodeLog:
    if args.centre_config is not None:
        from centre.config import load_centre_config
        from centre.store import open_centre_database

        centre = load_centre_config(args.centre_config)
        engine = open_centre_database(centre.centre.database)
        key_file, node = centre.identity.identity_dir / "node.key", centre.centre.id
    else:
        engine = context.engine()
        key_file, node = context.config.sync.identity_dir / "node.key", context.config.node.id
    return NodeLog(TransparencyLog(engine, node, load_private_key(key_file)), engine)


def _write(document: Any, output: Path | None) -> None:
    text = json.dumps(document, indent=1) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)


def _fail(error: Exception) -> int:
    print(f"carec-edge: {error}", file=sys.stderr)
    return 1


def status_command(args: argparse.Namespace, context: CliContext) -> int:
    node = _open(args, context)
    log = node.log
    latest = log.latest_checkpoint()
    with node.engine.connect() as conn:
        rows = conn.execute(
            select(tlog_alerts.c.kind, func.count()).group_by(tlog_alerts.c.kind)
        ).all()
    alerts: dict[str, int] = {str(kind): int(n) for kind, n in rows}
    status = {
        "node": log.node_id, "size": log.size(), "queued": log.queued(), "vkey": log.vkey,
        "checkpoint": None if latest is None else {
            "size": latest.size, "root": latest.root_hash.hex(),
            "created": format_utc(latest.created_at), "cosigners": log.cosigners(latest.size),
        },
        "alerts": sum(alerts.values()), "alerts_by_kind": alerts,
    }  # fmt: skip
    if args.json:
        print(json.dumps(status))
        return 0
    print(f"log of {log.node_id}: {status['size']} entries, {status['queued']} queued")
    if latest is None:
        print("no checkpoint yet (carec-edge log checkpoint signs one)")
    else:
        cosigners = ", ".join(log.cosigners(latest.size)) or "none yet"
        print(f"latest checkpoint: size {latest.size}, {format_utc(latest.created_at)}, "
              f"cosigned by {cosigners}")  # fmt: skip
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(alerts.items()))
    print(f"alerts: {status['alerts']}" + (f" ({kinds})" if kinds else ""))
    print(f"key: {log.vkey}")
    return 0


def checkpoint_command(args: argparse.Namespace, context: CliContext) -> int:
    log = _open(args, context).log
    stored = log.checkpoint()
    print(f"checkpoint of size {stored.size}, root {stored.root_hash.hex()}, "
          f"signed {format_utc(stored.created_at)}")  # fmt: skip
    return 0


def key_command(args: argparse.Namespace, context: CliContext) -> int:
    log = _open(args, context).log
    print(witness_vkey(log.origin, log.public_key) if args.witness else log.vkey)
    return 0


def prove_command(args: argparse.Namespace, context: CliContext) -> int:
    log = _open(args, context).log
    try:
        documents = prove(log, args.message_id)
    except (EvidenceError, LogError) as error:
        return _fail(error)
    _write(documents[0] if len(documents) == 1 else documents, args.output)
    return 0


def chain_command(args: argparse.Namespace, context: CliContext) -> int:
    try:
        document = chain(_open(args, context).log, args.since)
    except (EvidenceError, LogError) as error:
        return _fail(error)
    _write(document, args.output)
    return 0


def export_command(args: argparse.Namespace, context: CliContext) -> int:
    manifest = export_log(_open(args, context).log, args.directory)
    print(f"exported {manifest['size']} entries and {manifest['checkpoints']} checkpoints "
          f"to {args.directory}")  # fmt: skip
    return 0


def _verify(
    path: Path, log_key: str | None, witnesses: list[str], envelope: bytes | None
) -> dict[str, Any]:
    """The report of whatever `path` holds; EvidenceError when a check fails."""
    if path.is_dir():
        report = verify_export(path, log_key)
        return {"kind": "export", **report.to_dict()}
    document = json.loads(path.read_text())
    if isinstance(document, dict) and document.get("format") == CHAIN_FORMAT:
        return {
            "kind": "chain",
            "ok": True,
            **verify_chain_document(document, log_key, witnesses).to_dict(),
        }
    documents = document if isinstance(document, list) else [document]
    if not documents or not all(
        isinstance(d, dict) and d.get("format") == PROOF_FORMAT for d in documents
    ):
        raise EvidenceError(f"{path}: not a {PROOF_FORMAT}, {CHAIN_FORMAT} or export directory")
    proofs = [verify_proof(d, log_key, witnesses, envelope).to_dict() for d in documents]
    return {"kind": "proof", "ok": True, "proofs": proofs}


def verify_command(args: argparse.Namespace, _context: CliContext) -> int:
    try:
        log_key = args.log_key_file.read_text().strip() if args.log_key_file else args.log_key
        envelope = args.envelope.read_bytes() if args.envelope else None
        report = _verify(args.path, log_key, args.witness_key, envelope)
    except (OSError, ValueError) as error:  # EvidenceError and bad JSON are ValueErrors
        if args.json:
            print(json.dumps({"ok": False, "path": str(args.path), "problems": [str(error)]}))
        print(f"{args.path}: FAILED: {error}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(report))
    else:
        print(_human(args.path, report))
    return 0 if report["ok"] else 1


def _human(path: Path, report: dict[str, Any]) -> str:
    if report["kind"] == "export":
        head = "OK" if report["ok"] else "FAILED"
        lines = [
            f"{path}: {head}: {report['entries']} entries, {report['checkpoints_checked']} "
            f"checkpoints checked, {report['log_key_source']}"
        ]
        lines += [f"  {p}" for p in report["problems"]]
        if report["more_problems"]:
            lines.append(f"  ... and {report['more_problems']} more")
        return "\n".join(lines)
    if report["kind"] == "chain":
        sizes = report["sizes"]
        return (
            f"{path}: OK: {len(sizes)} checkpoints, sizes {sizes[0]} .. {sizes[-1]}, each "
            f"consistent with the one before; {report['log_key']} ({report['log_key_source']})"
        )
    lines = []
    for p in report["proofs"]:
        witnesses = (
            f"cosigned by {', '.join(p['witnesses'])}" if p["witnesses"] else "no witness key given"
        )
        if p["unverified_signers"]:
            witnesses += f" (not checked: {', '.join(p['unverified_signers'])})"
        lines.append(
            f"{path}: OK: message {p['message_id']} ({p['kind']}) is entry {p['leaf_index']} of "
            f"checkpoint {p['checkpoint_size']} signed by {p['log_key']} ({p['log_key_source']}); "
            f"{witnesses}; envelope {p['envelope']}"
        )
    return "\n".join(lines)
