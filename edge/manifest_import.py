"""Importing pre-arrival records from JSON Lines files: each valid record is stored, each bad
one is rejected whole with its file, line and reason, and nothing stops on bad input.

A large file is validated in worker processes, chunk by chunk, while this process writes the
chunks before it to SQLite: validation is the CPU-heavy half, and the box has two cores.
"""

from __future__ import annotations

import logging
import os
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import islice
from pathlib import Path

from edge.manifest import ContractError, Manifest, parse_manifest_json
from edge.manifest_cache import ManifestCache, PreparedManifest, UpsertCounts

log = logging.getLogger(__name__)

# Lines a worker validates at once; each chunk is stored in one transaction.
CHUNK_LINES = 5000
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


def parse_line(file: str, number: int, raw: bytes) -> Manifest | Reject:
    if len(raw) > MAX_LINE_BYTES:
        return Reject(file, number, f"line is {len(raw)} bytes, more than {MAX_LINE_BYTES}")
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as error:
        return Reject(file, number, f"not UTF-8 at byte {error.start}")
    try:
        return parse_manifest_json(raw)
    except ContractError as error:
        return Reject(file, number, "; ".join(error.reasons))


def read_records(path: Path) -> Iterator[tuple[int, Manifest | Reject]]:
    """(line number, record or reject) for every non-blank line of a JSON Lines file."""
    with path.open("rb") as stream:
        for number, raw in enumerate(stream, start=1):
            if raw.strip():
                yield number, parse_line(str(path), number, raw)


@dataclass(frozen=True)
class _Chunk:
    records: list[PreparedManifest]
    rejects: list[Reject]
    lines: int


def _parse_chunk(file: str, first_line: int, lines: list[bytes]) -> _Chunk:
    """Validate and prepare a run of lines; runs in a worker process."""
    records: list[PreparedManifest] = []
    rejects: list[Reject] = []
    count = 0
    for number, raw in enumerate(lines, start=first_line):
        if not raw.strip():
            continue
        count += 1
        item = parse_line(file, number, raw)
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            records.append(PreparedManifest.of(item))
    return _Chunk(records, rejects, count)


def _chunks(path: Path) -> Iterator[tuple[int, list[bytes]]]:
    with path.open("rb") as stream:
        first = 1
        while lines := list(islice(stream, CHUNK_LINES)):
            yield first, lines
            first += len(lines)


ProgressCallback = Callable[[str, int], None]
RejectCallback = Callable[[Reject], None]


class _Importer:
    def __init__(
        self,
        cache: ManifestCache,
        on_reject: RejectCallback | None,
        on_progress: ProgressCallback | None,
        progress_every_s: float,
        workers: int,
    ) -> None:
        self.cache = cache
        self.summary = ImportSummary()
        self.on_reject = on_reject
        self.on_progress = on_progress
        self.progress_every_s = progress_every_s
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(cancel_futures=True)

    def import_file(self, path: Path) -> None:
        name = str(path)
        pending: deque[Future[_Chunk]] = deque()
        last_progress = time.monotonic()
        try:
            for first, lines in _chunks(path):
                if self.workers <= 1 or (first == 1 and len(lines) < CHUNK_LINES):
                    self._store(_parse_chunk(name, first, lines))  # small file: no pool
                    continue
                pending.append(self._pool_for().submit(_parse_chunk, name, first, lines))
                while len(pending) > 2 * self.workers:  # bounded read-ahead
                    self._store(pending.popleft().result())
                if self.on_progress and time.monotonic() - last_progress >= self.progress_every_s:
                    self.on_progress(name, self.summary.records)
                    last_progress = time.monotonic()
        except OSError as error:
            self._reject(Reject(name, 0, f"cannot read: {error.strerror}"))
        while pending:
            self._store(pending.popleft().result())

    def _pool_for(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers)
        return self._pool

    def _store(self, chunk: _Chunk) -> None:
        self.summary.records += chunk.lines
        self.summary.imported += len(chunk.records)
        for reject in chunk.rejects:
            self._reject(reject)
        if chunk.records:
            self.summary.stored += self.cache.upsert_prepared(chunk.records)

    def _reject(self, reject: Reject) -> None:
        """Count the reject, and report it to the caller or, with none, to the log."""
        self.summary.rejects.append(reject)
        if self.on_reject:
            self.on_reject(reject)
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
    workers: int | None = None,
) -> ImportSummary:
    """Import files in order; records of a later file win over the same version of an earlier."""
    importer = _Importer(
        cache, on_reject, on_progress, progress_every_s, workers or os.cpu_count() or 1
    )
    try:
        for path in paths:
            importer.import_file(path)
    finally:
        importer.close()
    return importer.summary
