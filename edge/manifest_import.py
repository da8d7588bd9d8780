"""Importing pre-arrival records from JSON Lines files: each valid record is stored, each bad
one is rejected whole with its file, line and reason, and nothing stops on bad input.

A large file is validated in worker processes, chunk by chunk, while this process writes the
chunks before it to SQLite: validation is the CPU-heavy half, and the box has two cores.

Memory is bounded whatever the file: a line is read at most MAX_LINE_BYTES at a time (a longer
one is skipped to its newline without being held), a chunk holds at most CHUNK_BYTES, only a
few chunks are in flight, and the summary keeps the first MAX_KEPT_REJECTS rejects (all are
counted and reported as they come).
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import stat
import sys
import time
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from itertools import chain, islice
from pathlib import Path
from typing import BinaryIO

from edge.manifest import ContractError, Manifest, parse_manifest_json
from edge.manifest_cache import ManifestCache, PreparedManifest, UpsertCounts

log = logging.getLogger(__name__)

# Lines a worker validates at once; each chunk is stored in one transaction.
CHUNK_LINES = 5000
# ... and at most this many bytes of them, so that chunks of long lines stay small too.
CHUNK_BYTES = 8 << 20
# A line longer than this is not a record but an accident (or an attack).
MAX_LINE_BYTES = 1 << 20
# Rejects kept in the summary; the rest are counted, and reported to the callback or the log.
MAX_KEPT_REJECTS = 1000
# How much of an over-long line is read at a time while it is skipped.
_SKIP_BYTES = 1 << 16


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
    rejected: int = 0
    rejects: list[Reject] = field(default_factory=list)  # the first MAX_KEPT_REJECTS


def parse_line(file: str, number: int, raw: bytes) -> Manifest | Reject:
    if len(raw) > MAX_LINE_BYTES:
        return Reject(file, number, _too_long(len(raw)))
    try:
        return parse_manifest_json(raw, f"{file}:{number}")
    except ContractError as error:
        return Reject(file, number, "; ".join(error.reasons))


def _too_long(size: int) -> str:
    return f"line is {size} bytes, more than {MAX_LINE_BYTES}"


Line = tuple[int, bytes | int]  # (line number, the line, or the size of a line too long to hold)


def read_lines(stream: BinaryIO) -> Iterator[Line]:
    """Every non-blank line of `stream` with its number; a line longer than MAX_LINE_BYTES is
    skipped to its newline, never held whole, and given as its size."""
    number = 0
    while raw := stream.readline(MAX_LINE_BYTES + 1):
        number += 1
        if len(raw) <= MAX_LINE_BYTES:
            if raw.strip():
                yield number, raw
            continue
        size = len(raw)
        while not raw.endswith(b"\n") and (raw := stream.readline(_SKIP_BYTES)):
            size += len(raw)
        yield number, size


def read_records(path: Path) -> Iterator[tuple[int, Manifest | Reject]]:
    """(line number, record or reject) for every non-blank line of a JSON Lines file."""
    with _open(path) as stream:
        for number, line in read_lines(stream):
            if isinstance(line, int):
                yield number, Reject(str(path), number, _too_long(line))
            else:
                yield number, parse_line(str(path), number, line)


class _NotAFileError(OSError):
    pass


@contextlib.contextmanager
def _open(path: Path) -> Iterator[BinaryIO]:
    """The file, or _NotAFileError: a device such as /dev/zero never ends, so it is no manifest file
    (a pipe is fine: it ends when its writer closes it)."""
    with path.open("rb") as stream:
        mode = os.fstat(stream.fileno()).st_mode
        if not (stat.S_ISREG(mode) or stat.S_ISFIFO(mode)):
            raise _NotAFileError("not a regular file")
        yield stream


@dataclass(frozen=True)
class _Chunk:
    records: list[PreparedManifest]
    rejects: list[Reject]
    lines: int


def _parse_chunk(file: str, lines: list[Line]) -> _Chunk:
    """Validate and prepare a run of lines; runs in a worker process."""
    records: list[PreparedManifest] = []
    rejects: list[Reject] = []
    for number, raw in lines:
        item = (
            Reject(file, number, _too_long(raw))
            if isinstance(raw, int)
            else parse_line(file, number, raw)
        )
        if isinstance(item, Reject):
            rejects.append(item)
        else:
            records.append(PreparedManifest.of(item))
    return _Chunk(records, rejects, len(lines))


def _chunks(stream: BinaryIO) -> Iterator[list[Line]]:
    """Runs of at most CHUNK_LINES lines and (but for one line) CHUNK_BYTES."""
    chunk: list[Line] = []
    size = 0
    for line in read_lines(stream):
        chunk.append(line)
        size += len(line[1]) if isinstance(line[1], bytes) else 0
        if len(chunk) >= CHUNK_LINES or size >= CHUNK_BYTES:
            yield chunk
            chunk, size = [], 0
    if chunk:
        yield chunk


def _in_worker() -> None:
    """A worker leaves Ctrl-C to the importer (which stops it cleanly after its chunk), and
    ends with its parent however that ends, even killed: a worker never outlives an import."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if sys.platform == "linux":
        pr_set_pdeathsig = 1
        ctypes.CDLL(None, use_errno=True).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)


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
        """Stop the workers: those busy finish their chunk, the rest is cancelled."""
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)

    def import_file(self, path: Path) -> None:
        name = str(path)
        pending: deque[Future[_Chunk]] = deque()
        last_progress = time.monotonic()
        try:
            with _open(path) as stream:
                chunks = _chunks(stream)
                head = list(islice(chunks, 2))
                parallel = self.workers > 1 and len(head) > 1  # a small file needs no pool
                for lines in chain(head, chunks):
                    if not parallel:
                        self._store(_parse_chunk(name, lines))
                        continue
                    pending.append(self._pool_for().submit(_parse_chunk, name, lines))
                    while len(pending) > 2 * self.workers:  # bounded read-ahead
                        self._store(pending.popleft().result())
                    if time.monotonic() - last_progress >= self.progress_every_s:
                        if self.on_progress:
                            self.on_progress(name, self.summary.records)
                        last_progress = time.monotonic()
        except OSError as error:
            self._reject(Reject(name, 0, f"cannot read: {error.strerror or error}"))
        while pending:
            self._store(pending.popleft().result())

    def _pool_for(self) -> ProcessPoolExecutor:
        if self._pool is None:
            self._pool = ProcessPoolExecutor(self.workers, initializer=_in_worker)
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
        self.summary.rejected += 1
        if len(self.summary.rejects) < MAX_KEPT_REJECTS:
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
