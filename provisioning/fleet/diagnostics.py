"""The diagnostics bundle a `diagnostics` command sends back: a gzip'd tar, base64, at most
256 KiB encoded, of the recent log lines, the configuration with its secrets removed, the sync
status and the versions. Built to hold no personal data: log lines carry none by discipline
(edge.logs) and are scrubbed again here of anything shaped like one (an MRZ line, a document
number, a field named for personal data)."""

from __future__ import annotations

import base64
import datetime as dt
import gzip
import io
import json
import re
import tarfile
import time
from collections.abc import Mapping, Sequence, Set
from typing import Any

from sqlalchemy import Engine, select

from edge.logs import PERSONAL_FIELDS, WITHHELD
from edge.store.schema import arrival_readings, manifests
from edge.timeutil import utcnow

MAX_ENCODED = 256 * 1024  # CommandResultMessage.attachment
REMOVED = "[removed]"

# An MRZ line or part of one: letters, digits and '<' fillers around a '<<'.
_MRZ_LIKE = re.compile(r"[A-Z0-9<]*<<[A-Z0-9<]*")
# A document number: one to three letters then six or more digits (passports, IDs), or nine
# digits and more (personal and national identity numbers).
_DOCUMENT_LIKE = re.compile(r"\b(?:[A-Z]{1,3}[0-9]{6,12}|[0-9]{9,14})\b")
_PERSONAL_FIELD = re.compile(
    r"\b("
    + "|".join(sorted(PERSONAL_FIELDS | {"name"}, key=len, reverse=True))
    + r""")=("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|\S+)""",
    re.IGNORECASE,
)
_SECRET_KEY = re.compile(r"(key|secret|password|token|pin|passphrase)", re.IGNORECASE)
_SECRET_FILE_KEYS = frozenset({"key_file", "cert_file", "ca_file"})  # paths, kept


_WORD = re.compile(r"[^\W_]+")
MIN_NAME_PART = 3  # shorter parts of a name are too common to withhold everywhere


def scrub(line: str, known: Set[str] = frozenset()) -> str:
    """A log line with anything shaped like personal data withheld, and every word of `known`
    (lower-cased words of the names and document numbers the store holds)."""
    line = _PERSONAL_FIELD.sub(lambda m: f"{m.group(1)}={WITHHELD}", line)
    if "<<" in line:
        line = _MRZ_LIKE.sub(WITHHELD, line)
    line = _DOCUMENT_LIKE.sub(WITHHELD, line)
    if known:
        line = _WORD.sub(lambda m: WITHHELD if m.group().lower() in known else m.group(), line)
    return line


def personal_words(*values: object) -> set[str]:
    """The words of names and document numbers, lower-cased, as `scrub` looks for them."""
    words = set()
    for value in values:
        if isinstance(value, str):
            words |= {w.lower() for w in _WORD.findall(value) if len(w) >= MIN_NAME_PART}
    return words


def known_personal_words(
    engine: Engine, after: int = 0, batch: int = 500
) -> tuple[set[str], int | None]:
    """One batch of the personal words the store holds (the drivers' names and document
    numbers of the cached records, then the documents read in the last days), from manifest id
    `after` on; the words, and where the next batch starts (None: done). A batch a store job,
    so that the lanes go on between two."""
    words: set[str] = set()
    with engine.connect() as conn:
        if after >= 0:
            rows = conn.execute(
                select(manifests.c.id, manifests.c.driver_document, manifests.c.record)
                .where(manifests.c.id > after)
                .order_by(manifests.c.id)
                .limit(batch)
            ).all()
            for row in rows:
                driver = _json_field(row.record, "driver")
                words |= personal_words(
                    row.driver_document, driver.get("name"), driver.get("document_number")
                )
            if len(rows) == batch:
                return words, rows[-1].id
        since = utcnow() - READINGS_LOOKED_AT
        readings = conn.execute(
            select(arrival_readings.c.reading).where(
                arrival_readings.c.kind == "document", arrival_readings.c.at >= since
            )
        ).scalars()
        for reading in readings:
            mrz = _json_field(reading, "mrz")
            words |= personal_words(*(mrz.get(k) for k in MRZ_PERSONAL_KEYS))
    return words, None


READINGS_LOOKED_AT = dt.timedelta(days=2)
MRZ_PERSONAL_KEYS = ("surname", "given_names", "names", "document_number", "personal_number")


def _json_field(text: str | None, key: str) -> dict[str, Any]:
    try:
        value = json.loads(text or "{}").get(key)
    except (ValueError, AttributeError):
        return {}
    return value if isinstance(value, dict) else {}


def without_secrets(data: Mapping[str, Any]) -> dict[str, Any]:
    """The configuration's data with every value whose key names a secret removed."""

    def clean(value: Any) -> Any:
        if isinstance(value, Mapping):
            return {
                k: REMOVED if _SECRET_KEY.search(k) and k not in _SECRET_FILE_KEYS else clean(v)
                for k, v in value.items()
            }
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return dict(clean(data))


def bundle(
    log_lines: Sequence[str],
    config: Mapping[str, Any],
    sync_status: Mapping[str, Any],
    versions: Mapping[str, str],
    *,
    known: Set[str] = frozenset(),
    limit: int = MAX_ENCODED,
) -> tuple[str, int]:
    """The bundle, base64, and how many log lines (the newest) it holds: fewer when all of
    them would not fit in `limit`."""
    files = {
        "config.json": _json(without_secrets(config)),
        "sync-status.json": _json(sync_status),
        "versions.json": _json(versions),
    }
    lines = [scrub(line, known) for line in log_lines]
    kept = len(lines)
    while True:
        encoded = _tar(files | {"log.txt": "\n".join(lines[len(lines) - kept :]) + "\n"})
        if len(encoded) <= limit or kept == 0:
            return encoded, kept
        kept //= 2


def _json(value: object) -> str:
    return json.dumps(value, indent=2, sort_keys=True, default=str, ensure_ascii=False)


def _tar(files: Mapping[str, str]) -> str:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        for name, text in files.items():
            data = text.encode("utf-8")
            info = tarfile.TarInfo(f"diagnostics/{name}")
            info.size, info.mtime, info.mode = len(data), int(time.time()), 0o644
            tar.addfile(info, io.BytesIO(data))
    return base64.b64encode(gzip.compress(raw.getvalue(), mtime=0)).decode("ascii")


def unpack(encoded: str) -> dict[str, str]:
    """A bundle's files by name (for tests and the centre's operator)."""
    raw = gzip.decompress(base64.b64decode(encoded))
    found = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r") as tar:
        for member in tar.getmembers():
            stream = tar.extractfile(member)
            if stream is not None:
                found[member.name.removeprefix("diagnostics/")] = stream.read().decode("utf-8")
    return found
