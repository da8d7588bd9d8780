"""The drop directory (the SFTP drop many CIS use): files in `incoming/`, each moved to `done/`
when every record in it was taken, or to `failed/` when any was refused or the file could not
be read, with `<file>.report.json` beside it saying what happened to each record.

A CIS writes a file under a temporary name (a leading dot, or `.part`/`.tmp` at the end) and
renames it when complete: only complete names are taken. The format is the file's extension:
`.jsonl` (the contract's JSON Lines), `.edi` (UN/EDIFACT CUSCAR), `.xml` (the NCTS-style
transit declaration). Records are stored in chunks, each one transaction, so a file of 100,000
records is never held in one; a centre stopped in the middle of a file takes it again at start,
and the chunks already stored are `unchanged` (a record's version is its idempotency key).

Several instances may watch one directory: a file is claimed by renaming it into
`processing/<instance>/`, which only one of them can do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import insert, select

from centre.formats.cuscar import read_cuscar
from centre.formats.errors import FormatError, FormatReject
from centre.formats.ncts_xml import read_ncts_xml
from centre.records import Outcome, RecordDesk, Result
from centre.store.schema import drop_files
from edge.logs import log_event
from edge.manifest import Manifest
from edge.manifest_import import Reject, read_records
from edge.timeutil import format_utc, utcnow

log = logging.getLogger(__name__)

CHUNK = 1000  # records a transaction
MAX_DOCUMENT_BYTES = 256 << 20  # an EDIFACT or XML file is parsed whole
MAX_KEPT_REASONS = 1000  # refusals listed in a report; all are counted
FORMATS = {".jsonl": "jsonl", ".edi": "cuscar", ".xml": "ncts_xml"}
_PARTIAL_SUFFIXES = (".part", ".tmp", ".filepart")


@dataclass
class FileReport:
    name: str
    format: str
    outcome: str = "done"  # done, failed
    records: int = 0
    outcomes: dict[str, int] = field(default_factory=dict)
    refused: list[str] = field(default_factory=list)  # the first MAX_KEPT_REASONS
    error: str | None = None

    def count(self, result: Result) -> None:
        self.records += 1
        self.outcomes[result.outcome.value] = self.outcomes.get(result.outcome.value, 0) + 1
        if result.outcome is Outcome.REFUSED:
            self._refuse(
                f"{result.issuer} {result.ref} v{result.version}: " + "; ".join(result.reasons)
            )

    def reject(self, reason: str) -> None:
        self.records += 1
        self.outcomes["refused"] = self.outcomes.get("refused", 0) + 1
        self._refuse(reason)

    def _refuse(self, reason: str) -> None:
        self.outcome = "failed"
        if len(self.refused) < MAX_KEPT_REASONS:
            self.refused.append(reason)

    def to_dict(self) -> dict[str, object]:
        return {
            "file": self.name, "format": self.format, "outcome": self.outcome,
            "records": self.records, "outcomes": self.outcomes, "refused": self.refused,
            "error": self.error, "at": format_utc(utcnow()),
        }  # fmt: skip


class DropDirectory:
    def __init__(self, root: Path, desk: RecordDesk, country: str, instance: str = "1") -> None:
        self.root = root
        self.desk = desk
        self.country = country
        self.incoming = root / "incoming"
        self.processing = root / "processing" / instance
        self.done = root / "done"
        self.failed = root / "failed"
        for folder in (self.incoming, self.processing, self.done, self.failed):
            folder.mkdir(parents=True, exist_ok=True)

    def poll(self) -> list[FileReport]:
        """Take every complete file: those this instance left half-done first, then new ones."""
        reports = [self._take(path) for path in sorted(self.processing.iterdir())]
        for path in sorted(self.incoming.iterdir()):
            if not _complete(path):
                continue
            claimed = self.processing / path.name
            try:
                os.rename(path, claimed)  # atomic: one instance wins a file
            except FileNotFoundError:
                continue  # another instance took it
            reports.append(self._take(claimed))
        return reports

    def _take(self, path: Path) -> FileReport:
        kind = FORMATS.get(path.suffix.lower(), "")
        report = FileReport(path.name, kind or "unknown")
        digest: str | None = None
        try:
            digest = _sha256(path)
            earlier = self._taken_before(digest)
            if earlier:
                report.outcome, report.error = "failed", f"the same file was taken as {earlier}"
                digest = None  # taken once already: nothing new to remember
            elif not kind:
                report.outcome = "failed"
                report.error = f"unknown format {path.suffix!r}; use .jsonl, .edi or .xml"
            else:
                self._submit(path, kind, report)
        except (FormatError, OSError) as error:
            report.outcome, report.error = "failed", str(error)[:1000]
            digest = None
        self._finish(path, report, digest)
        return report

    def _submit(self, path: Path, kind: str, report: FileReport) -> None:
        chunk: list[Manifest] = []
        source = f"drop:{path.name}"[:200]
        for item in self._records(path, kind):
            if isinstance(item, Manifest):
                if item.issuer[:2] != self.country:
                    report.reject(f"{item.ref}: issuer {item.issuer} is not of {self.country}")
                    continue
                chunk.append(item)
                if len(chunk) >= CHUNK:
                    self._store(chunk, source, report)
                    chunk = []
            else:
                report.reject(str(item))
        if chunk:
            self._store(chunk, source, report)

    def _store(self, chunk: list[Manifest], source: str, report: FileReport) -> None:
        for result in self.desk.submit(chunk, source):
            report.count(result)

    def _records(self, path: Path, kind: str) -> Iterator[Manifest | FormatReject | Reject]:
        if kind == "jsonl":
            for _, item in read_records(path):
                yield item
            return
        size = path.stat().st_size
        if size > MAX_DOCUMENT_BYTES:
            raise FormatError(f"{path.name}: {size} bytes, more than {MAX_DOCUMENT_BYTES}")
        data = path.read_bytes()
        read = read_cuscar if kind == "cuscar" else read_ncts_xml
        yield from read(data, path.name)

    def _taken_before(self, digest: str) -> str | None:
        with self.desk.engine.connect() as conn:
            row = conn.execute(
                select(drop_files.c.name, drop_files.c.taken_at).where(
                    drop_files.c.sha256 == digest
                )
            ).first()
        return None if row is None else f"{row.name} at {format_utc(row.taken_at)}"

    def _finish(self, path: Path, report: FileReport, digest: str | None) -> None:
        target = self.done if report.outcome == "done" else self.failed
        stamp = utcnow().strftime("%Y%m%dT%H%M%S")
        name = path.name if not (target / path.name).exists() else f"{stamp}-{path.name}"
        report_path = target / f"{name}.report.json"
        temporary = report_path.with_name(f".{report_path.name}.tmp")
        temporary.write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n")
        os.replace(temporary, report_path)
        if digest is not None:
            with self.desk.engine.begin() as conn:
                conn.execute(
                    insert(drop_files).values(
                        sha256=digest, name=path.name[:255], outcome=report.outcome,
                        taken_at=utcnow(),
                    )
                )  # fmt: skip
        os.replace(path, target / name)
        log_event(
            log, logging.INFO if report.outcome == "done" else logging.WARNING, "drop.file",
            file=path.name, format=report.format, outcome=report.outcome, records=report.records,
            refused=report.outcomes.get("refused", 0),
        )  # fmt: skip


def _complete(path: Path) -> bool:
    name = path.name
    return (
        path.is_file() and not name.startswith(".") and not name.lower().endswith(_PARTIAL_SUFFIXES)
    )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as stream:
        while block := stream.read(1 << 20):
            digest.update(block)
    return digest.hexdigest()
