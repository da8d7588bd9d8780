"""Structured logs: journald fields under systemd, one `key=value` line on stderr elsewhere.

Log an event with its fields, and both outputs keep them apart from the message:

    log_event(logger, logging.WARNING, "manifest.rejected", file="in.jsonl", line=3, reason="...")

On the journal that is MESSAGE=manifest.rejected with FILE=, LINE= and REASON= fields; on
stderr it is `2026-11-28T08:30:00.123Z WARNING edge.x manifest.rejected file=in.jsonl line=3 ...`.

No name, document number, MRZ, PIN or free-text note belongs in a log line: the code never
logs them, and `PersonalDataFilter` (on every handler `setup_logging` installs) withholds the
value of a field whose name says it holds one, and any text shaped like an MRZ line, in case a
line slips through.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import re
import sys
from collections.abc import Mapping
from typing import Any

SYSLOG_IDENTIFIER = "carec-edge"

# Everything a LogRecord carries by itself; whatever else it has came in through `extra=`.
_RECORD_ATTRIBUTES = frozenset(logging.LogRecord("", 0, "", 0, "", (), None).__dict__) | {
    "message",
    "asctime",
    "taskName",
}


def record_fields(record: logging.LogRecord) -> dict[str, object]:
    """The `extra=` fields of a record, in the order they were given."""
    return {k: v for k, v in record.__dict__.items() if k not in _RECORD_ATTRIBUTES}


def log_event(
    logger: logging.Logger,
    level: int,
    event: str,
    /,
    *,
    exc_info: bool = False,
    **fields: object,
) -> None:
    """Log `event` (a dotted name such as `purge.done`) with `fields` as structured fields.

    Field names must not be LogRecord attributes (`name`, `filename`, `lineno`, ...)."""
    logger.log(level, event, extra=fields, exc_info=exc_info)


# Field names whose values are personal data or secrets: withheld from every log line.
PERSONAL_FIELDS = frozenset(
    {
        "pin", "new_pin", "password", "note", "login", "typed",
        "holder", "driver", "surname", "given_names", "full_name", "names",
        "document_number", "document", "personal_number", "birth_date", "mrz", "mrz_lines",
    }
)  # fmt: skip
WITHHELD = "[withheld]"
# An MRZ line's shape: 30 or more of A-Z, 0-9 and '<', with a '<<' filler somewhere.
_MRZ_LIKE = re.compile(r"[A-Z0-9<]*<<[A-Z0-9<]*")


def _mrz_shaped(text: str) -> bool:
    return any(len(m.group()) >= 30 for m in _MRZ_LIKE.finditer(text)) if "<<" in text else False


class PersonalDataFilter(logging.Filter):
    """Defence in depth: a field named for personal data (`PERSONAL_FIELDS`) and any text
    shaped like an MRZ line leave the record as `[withheld]`; the record itself is kept."""

    def filter(self, record: logging.LogRecord) -> bool:
        for key, value in record_fields(record).items():
            if key.lower() in PERSONAL_FIELDS or (isinstance(value, str) and _mrz_shaped(value)):
                setattr(record, key, WITHHELD)
        message = record.getMessage()
        if _mrz_shaped(message):
            record.msg, record.args = _MRZ_LIKE.sub(WITHHELD, message), ()
        return True


def _format_value(value: object) -> str:
    text = value if isinstance(value, str) else str(value)
    if text and not any(ch.isspace() or ch in '"=\\' for ch in text):
        return text
    return json.dumps(text, ensure_ascii=False)


class KeyValueFormatter(logging.Formatter):
    """`time level logger message key=value ...`, time in UTC; a traceback follows on its own
    lines."""

    def format(self, record: logging.LogRecord) -> str:
        moment = dt.datetime.fromtimestamp(record.created, dt.UTC)
        parts = [
            moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z",
            record.levelname,
            record.name,
            record.getMessage(),
        ]
        parts += [f"{key}={_format_value(value)}" for key, value in record_fields(record).items()]
        line = " ".join(parts)
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


_TRACEBACKS = logging.Formatter()


def journal_wanted(environ: Mapping[str, str]) -> bool:
    """Whether systemd started us (it sets these) and journald can take structured fields."""
    if not (environ.get("JOURNAL_STREAM") or environ.get("INVOCATION_ID")):
        return False
    try:
        import systemd.journal  # noqa: F401
    except ImportError:
        return False
    return True


def journal_handler(**handler_args: Any) -> logging.Handler:
    """A systemd JournalHandler that sends each `extra=` field as an upper-cased journal field
    (journald drops field names with lower-case letters)."""
    from systemd.journal import JournalHandler

    class _FieldsJournalHandler(JournalHandler):  # type: ignore[misc]
        def emit(self, record: logging.LogRecord) -> None:
            try:
                fields = {key.upper(): value for key, value in record_fields(record).items()}
                if record.exc_info:
                    fields["EXCEPTION_TEXT"] = _TRACEBACKS.formatException(record.exc_info)
                self.send(
                    record.getMessage(),
                    PRIORITY=format(self.map_priority(record.levelno)),
                    LOGGER=record.name,
                    THREAD_NAME=record.threadName,
                    CODE_FILE=record.pathname,
                    CODE_LINE=record.lineno,
                    CODE_FUNC=record.funcName,
                    **{**self._extra, **fields},
                )
            except Exception:
                self.handleError(record)

    handler_args.setdefault("SYSLOG_IDENTIFIER", SYSLOG_IDENTIFIER)
    handler: logging.Handler = _FieldsJournalHandler(**handler_args)
    return handler


def stderr_handler() -> logging.Handler:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(KeyValueFormatter())
    return handler


def setup_logging(level: str, environ: Mapping[str, str] | None = None) -> None:
    """Send every log record of the process, from `level` up, to journald under systemd and to
    stderr otherwise. Calling it again replaces the handlers it set before."""
    env = os.environ if environ is None else environ
    handler = journal_handler() if journal_wanted(env) else stderr_handler()
    handler.addFilter(PersonalDataFilter())
    root = logging.getLogger()
    for old in root.handlers[:]:
        root.removeHandler(old)
        old.close()
    root.addHandler(handler)
    root.setLevel(level.upper())


def error_first_line(error: BaseException) -> str:
    """An error's own words without SQLAlchemy's appended statement, parameters and background
    link: what a log line may say about a failure (its parameters may hold personal data)."""
    text = str(getattr(error, "orig", None) or error)
    return text.splitlines()[0][:200] if text.strip() else type(error).__name__
