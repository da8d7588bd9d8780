"""A whole log for an auditor ("carec-tlog-export/1"), as plain files in a directory:

    export.json           format, origin, tree size, the first entry's index (and, when older
                          entries were purged, the compact range of the tree before it)
    log.vkey              the log's note verifier key (the auditor should hold it already)
    entries.jsonl         one entry a line in leaf-index order, with its leaf hash
    checkpoints/<size>.note   every checkpoint kept, with its cosignatures

`verify_export` rebuilds the tree from the entries alone, streaming (a compact range: one hash
per level, so millions of entries need no memory), and holds every checkpoint's root and
signature against it. Problems name the entry index or the checkpoint size."""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sync.tlog.checkpoint import Checkpoint
from sync.tlog.evidence import GIVEN, SELF_ASSERTED, EvidenceError, log_verifier
from sync.tlog.evidence import open_signed_checkpoint as _open
from sync.tlog.merkle import EMPTY_ROOT, leaf_hash, node_hash
from sync.tlog.store import TransparencyLog, entry_leaf

EXPORT_FORMAT = "carec-tlog-export/1"
READ_BATCH = 10_000
MAX_PROBLEMS = 50  # an auditor needs the first ones; the count says how many more


class CompactRange:
    """The roots of the perfect subtrees that make up [0, size): append a leaf, read the root."""

    def __init__(self, size: int = 0, hashes: list[bytes] | None = None) -> None:
        self.size = size
        self._stack = list(hashes or [])  # highest subtree first
        if len(self._stack) != bin(size).count("1"):
            raise EvidenceError(f"compact range of size {size}: {len(self._stack)} hashes")

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        n = self.size
        while n & 1 == 0:  # each trailing zero bit of the new size: two subtrees merge
            right = self._stack.pop()
            self._stack[-1] = node_hash(self._stack[-1], right)
            n >>= 1

    def root(self) -> bytes:
        if not self._stack:
            return EMPTY_ROOT
        root = self._stack[-1]
        for h in reversed(self._stack[:-1]):
            root = node_hash(h, root)
        return root


def export_log(log: TransparencyLog, directory: Path) -> dict[str, Any]:
    """Write the integrated log to `directory` (created); the export.json written."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "checkpoints").mkdir(exist_ok=True)
    size = log.size()
    checkpoints = [c for c in log.checkpoints() if c.size <= size]
    for stored in checkpoints:
        (directory / "checkpoints" / f"{stored.size}.note").write_bytes(
            log.cosigned_note(stored.size)
        )
    first = None
    with (directory / "entries.jsonl").open("w") as out:
        for start in range(0, size, READ_BATCH):
            for entry in log.entries(start, min(size, start + READ_BATCH)):
                first = entry.leaf_index if first is None else first
                line = entry.to_dict() | {"leaf_hash": leaf_hash(entry.leaf()).hex()}
                out.write(json.dumps(line, separators=(",", ":")) + "\n")
    first = size if first is None else first
    with log.reader(size) as reader:  # the tree before the first entry kept (purged ones)
        prefix, start = [], 0
        for bit in reversed(range(first.bit_length())):
            if first >> bit & 1:
                prefix.append(reader.node(bit, start >> bit).hex())
                start += 1 << bit
    manifest = {
        "format": EXPORT_FORMAT, "log_origin": log.origin, "size": size,
        "first_index": first, "prefix_compact_range": prefix, "checkpoints": len(checkpoints),
    }  # fmt: skip
    (directory / "log.vkey").write_text(log.vkey + "\n")
    (directory / "export.json").write_text(json.dumps(manifest, indent=1) + "\n")
    return manifest


@dataclass
class ExportReport:
    entries: int = 0
    checkpoints_checked: int = 0
    size: int = 0
    log_key_source: str = GIVEN
    problems: list[str] = field(default_factory=list)
    more_problems: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def problem(self, text: str) -> None:
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(text)
        else:
            self.more_problems += 1

    def to_dict(self) -> dict[str, Any]:
        return {**self.__dict__, "ok": self.ok}


def _entries(path: Path, report: ExportReport) -> Iterator[tuple[int, dict[str, Any]]]:
    with path.open() as lines:
        for number, line in enumerate(lines, 1):
            try:
                entry = json.loads(line)
                if not isinstance(entry, dict):
                    raise ValueError
            except ValueError:
                report.problem(f"entries.jsonl line {number}: not a JSON object")
                continue
            yield number, entry


def _leaf(entry: dict[str, Any]) -> bytes:
    return leaf_hash(
        entry_leaf(
            entry["kind"], entry["message_id"], entry["type"], entry["party"],
            bytes.fromhex(entry["envelope_sha256"]),
        )
    )  # fmt: skip


def _checkpoints(directory: Path, vkey: str, report: ExportReport) -> dict[int, Checkpoint]:
    log = log_verifier(vkey)
    found: dict[int, Checkpoint] = {}
    for path in sorted((directory / "checkpoints").glob("*.note")):
        try:
            checkpoint = _open(path.read_bytes(), log, []).checkpoint
        except EvidenceError as e:
            report.problem(f"checkpoint file {path.name}: {e}")
            continue
        if path.stem != str(checkpoint.size):
            report.problem(f"checkpoint file {path.name}: holds size {checkpoint.size}")
        found[checkpoint.size] = checkpoint
    times = [(size, c.extensions[0]) for size, c in sorted(found.items()) if c.extensions]
    for (a, ta), (b, tb) in itertools.pairwise(times):
        if ta.startswith("time ") and tb.startswith("time ") and tb < ta:
            report.problem(f"checkpoint {b} was signed before checkpoint {a} ({tb} < {ta}): "
                           "the log was once smaller than it had been")  # fmt: skip
    return found


def verify_export(directory: Path, log_vkey: str | None = None) -> ExportReport:
    """Rebuild the tree from `directory`'s entries and check every checkpoint against it."""
    report = ExportReport()
    try:
        manifest = json.loads((directory / "export.json").read_text())
        if manifest.get("format") != EXPORT_FORMAT:
            raise ValueError(f"format is not {EXPORT_FORMAT!r}")
        first = int(manifest["first_index"])
        tree = CompactRange(first, [bytes.fromhex(h) for h in manifest["prefix_compact_range"]])
    except (OSError, ValueError, KeyError, TypeError) as e:
        report.problem(f"{directory}/export.json: {e}")
        return report
    if log_vkey is None:
        log_vkey = (directory / "log.vkey").read_text().strip()
        report.log_key_source = SELF_ASSERTED
    checkpoints = _checkpoints(directory, log_vkey, report)
    pending = sorted(s for s in checkpoints if s >= first)
    for size in (s for s in checkpoints if s < first):
        report.problem(f"checkpoint {size}: before the first entry exported ({first}); "
                       "only its signature is checked")  # fmt: skip
    last_good = first

    def check(size: int) -> None:
        nonlocal last_good
        report.checkpoints_checked += 1
        if tree.root() != checkpoints[size].root_hash:
            report.problem(
                f"checkpoint {size}: its root is not the tree of the entries exported; an "
                f"entry with index in [{last_good}, {size}) was altered, dropped or reordered"
            )
        last_good = size

    while pending and pending[0] == tree.size:
        check(pending.pop(0))
    for number, entry in _entries(directory / "entries.jsonl", report):
        index = entry.get("leaf_index")
        if index != tree.size:
            what = "missing" if isinstance(index, int) and index > tree.size else "out of order"
            report.problem(f"entry {tree.size}: {what} (line {number} holds entry {index})")
        try:
            leaf = _leaf(entry)
        except (KeyError, TypeError, ValueError, AttributeError):
            report.problem(f"entry {tree.size} (line {number}): fields missing or malformed")
            leaf = b"\0" * 32
        stated = entry.get("leaf_hash")
        if stated is not None and stated != leaf.hex():
            report.problem(f"entry {tree.size} (line {number}): its fields do not hash to its "
                           "leaf hash: the entry was altered")  # fmt: skip
        tree.append(leaf)
        report.entries += 1
        while pending and pending[0] == tree.size:
            check(pending.pop(0))
    for size in pending:
        report.problem(f"checkpoint {size}: the export holds only {tree.size} entries")
    report.size = tree.size
    if tree.size != manifest.get("size"):
        report.problem(f"export.json: size {manifest.get('size')}, entries make {tree.size}")
    return report
