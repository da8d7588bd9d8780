"""Importing pre-arrival records from JSON Lines files: each valid record is stored, each bad
one is rejected whole with its file, line and reason, and nothing stops on bad input."""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from edge.manifest import ContractError, Manifest, parse_manifest
from edge.manifest_cache import ManifestCache, UpsertCounts

log = logging.getLogger(__name__)

BATCH_SIZE = 2000
# A line longer than this is not a record but an accident (or an attack).
MAX_LINE_BYTES = 1 << 20


@dataclass(frozen=True)
class Reject:
    file: str
    line: int
    reason: str

    def __str__(self) -> str:
        return f"{self.file}:{self.line}: {self.reason}"


@dataclass
class ImportSummary:
    records: int = 0  # lines read
    imported: int = 0  # records that passed the contract and were handed to the cache
    stored: UpsertCounts = field(default_factory=UpsertCounts)
    rejects: list[Reject] = field(default_factory=list)


def read_records(path: Path) -> Iterator[tuple[int, Manifest | Reject]]:
    """(line number, record or reject) for every non-blank line of a JSON Lines file."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if not raw.strip():
                continue
            yield number, parse_line(str(path), number, raw)


def parse_line(file: str, number: int, raw: bytes) -> Manifest | Reject:
    if len(raw) > MAX_LINE_BYTES:
        return Reject(file, number, f"line is {len(raw)} bytes, more than {MAX_LINE_BYTES}")
    try:
        data = json.loads(raw.decode("utf-8").strip())
    except UnicodeDecodeError as error:
        return Reject(file, number, f"not UTF-8 at byte {error.start}")
    except json.JSONDecodeError as error:
        return Reject(file, number, f"not JSON: {error.msg} at column {error.colno}")
    try:
        return parse_manifest(data)
    except ContractError as error:
        return Reject(file, number, "; ".join(error.reasons))


ProgressCallback = Callable[[str, int], None]
RejectCallback = Callable[[Reject], None]


def _reject(summary: ImportSummary, reject: Reject, on_reject: RejectCallback | None) -> None:
    """Count the reject, and report it to the caller or, with none, to the log."""
    summary.rejects.append(reject)
    if on_reject:
        on_reject(reject)
    else:
        log.warning(
            "manifest rejected",
            extra={"file": reject.file, "line": reject.line, "reason": reject.reason},
        )


def import_files(
    cache: ManifestCache,
    paths: list[Path],
    on_reject: RejectCallback | None = None,
    on_progress: ProgressCallback | None = None,
    progress_every_s: float = 2.0,
) -> ImportSummary:
    summary = ImportSummary()
    for path in paths:
        batch: list[Manifest] = []
        last_progress = time.monotonic()
        try:
            for _, item in read_records(path):
                summary.records += 1
                if isinstance(item, Reject):
                    _reject(summary, item, on_reject)
                    continue
                batch.append(item)
                summary.imported += 1
                if len(batch) >= BATCH_SIZE:
                    summary.stored += cache.upsert(batch)
                    batch.clear()
                    if on_progress and time.monotonic() - last_progress >= progress_every_s:
                        on_progress(str(path), summary.records)
                        last_progress = time.monotonic()
        except OSError as error:
            _reject(summary, Reject(str(path), 0, f"cannot read: {error.strerror}"), on_reject)
        if batch:
            summary.stored += cache.upsert(batch)
    return summary
