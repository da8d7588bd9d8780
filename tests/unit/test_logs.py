"""Logs: a `time level logger message key=value` line on stderr, journal fields under systemd."""

from __future__ import annotations

import io
import logging
import os
import re
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from edge.logs import (
    KeyValueFormatter,
    journal_handler,
    journal_wanted,
    log_event,
    setup_logging,
    stderr_handler,
)

REPO = Path(__file__).resolve().parents[2]
TIME = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z"


@pytest.fixture
def root_logger() -> Iterator[logging.Logger]:
    """The root logger, with its handlers and level put back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield root
    for handler in root.handlers[:]:
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)


@contextmanager
def logger_writing_to(handler: logging.Handler, name: str) -> Iterator[logging.Logger]:
    """A logger that sends every level to `handler` only."""
    logger = logging.getLogger(name)
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    try:
        yield logger
    finally:
        logger.removeHandler(handler)
        logger.setLevel(logging.NOTSET)
        logger.propagate = True


def formatted(name: str, emit: Callable[[logging.Logger], None]) -> str:
    """What `emit(logger)` writes through the stderr formatter."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(KeyValueFormatter())
    with logger_writing_to(handler, name) as logger:
        emit(logger)
    return stream.getvalue()


def test_off_systemd_a_process_logs_one_line_per_event_with_its_fields() -> None:
    program = (
        "import logging\n"
        "from edge.logs import setup_logging, log_event\n"
        "setup_logging('INFO')\n"
        "log = logging.getLogger('edge.manifest_import')\n"
        "log.debug('not shown at INFO')\n"
        "log_event(log, logging.WARNING, 'manifest.rejected', file='in.jsonl', line=3,"
        " reason='seals[2].id: empty')\n"
    )
    env = {k: v for k, v in os.environ.items() if k not in ("JOURNAL_STREAM", "INVOCATION_ID")}
    env["PYTHONPATH"] = str(REPO)
    result = subprocess.run(
        [sys.executable, "-c", program], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == ""
    assert re.fullmatch(
        TIME + r" WARNING edge\.manifest_import manifest\.rejected file=in\.jsonl line=3"
        r' reason="seals\[2\]\.id: empty"\n',
        result.stderr,
    ), result.stderr


def test_plain_log_calls_keep_their_extra_fields() -> None:
    line = formatted(
        "carec.test.extra",
        lambda log: log.info("purge %s", "done", extra={"purged": 7, "cutoff": None}),
    )
    assert re.fullmatch(TIME + r" INFO carec\.test\.extra purge done purged=7 cutoff=None\n", line)


def test_values_with_spaces_quotes_or_equals_are_quoted() -> None:
    line = formatted(
        "carec.test.quote",
        lambda log: log_event(
            log, logging.INFO, "x", plate="А 777 ВС 02", note='say "hi"', eq="a=b", empty=""
        ),
    )
    assert line.endswith(' plate="А 777 ВС 02" note="say \\"hi\\"" eq="a=b" empty=""\n')


def test_an_exception_follows_its_line_as_a_traceback() -> None:
    def fail(log: logging.Logger) -> None:
        try:
            raise RuntimeError("store is gone")
        except RuntimeError:
            log_event(log, logging.ERROR, "service.failed", exc_info=True, stage="start")

    text = formatted("carec.test.exc", fail)
    first, *rest = text.splitlines()
    assert re.fullmatch(TIME + r" ERROR carec\.test\.exc service\.failed stage=start", first)
    assert rest[0] == "Traceback (most recent call last):"
    assert rest[-1] == "RuntimeError: store is gone"


def test_journal_gets_the_fields_upper_cased_under_our_identifier() -> None:
    sent: list[tuple[str, dict[str, object]]] = []

    def collect(message: str, **fields: object) -> None:
        sent.append((message, fields))

    with logger_writing_to(journal_handler(sender_function=collect), "carec.test.jnl") as logger:
        log_event(logger, logging.WARNING, "manifest.rejected", file="in.jsonl", line=3)

    [(message, fields)] = sent
    assert message == "manifest.rejected"
    assert fields["SYSLOG_IDENTIFIER"] == "carec-edge"
    assert fields["PRIORITY"] == "4"
    assert fields["LOGGER"] == "carec.test.jnl"
    assert (fields["FILE"], fields["LINE"]) == ("in.jsonl", 3)
    assert all(re.fullmatch(r"[A-Z0-9_]+", name) for name in fields), sorted(fields)


def test_journal_is_wanted_only_when_systemd_started_us() -> None:
    assert journal_wanted({"INVOCATION_ID": "0f1e2d"})
    assert journal_wanted({"JOURNAL_STREAM": "8:12345"})
    assert not journal_wanted({})
    assert not journal_wanted({"INVOCATION_ID": ""})


def test_setup_logging_picks_the_output_and_the_level(root_logger: logging.Logger) -> None:
    setup_logging("WARNING", environ={"INVOCATION_ID": "0f1e2d"})
    [handler] = root_logger.handlers
    assert type(handler).__name__ == "_FieldsJournalHandler"
    assert root_logger.level == logging.WARNING

    setup_logging("DEBUG", environ={})
    [handler] = root_logger.handlers
    assert isinstance(handler, logging.StreamHandler)
    assert isinstance(handler.formatter, KeyValueFormatter)
    assert root_logger.level == logging.DEBUG


def test_stderr_handler_writes_to_the_current_stderr(capsys: pytest.CaptureFixture[str]) -> None:
    with logger_writing_to(stderr_handler(), "carec.test.stderr") as logger:
        log_event(logger, logging.INFO, "service.ready", manifests=0)
    assert capsys.readouterr().err.endswith(" INFO carec.test.stderr service.ready manifests=0\n")


def test_personal_data_is_withheld_from_every_line_setup_logging_writes(
    root_logger: logging.Logger, capsys: pytest.CaptureFixture[str]
) -> None:
    """Defence in depth: a field named for personal data, or text shaped like an MRZ line in a
    field or the message, never reaches the output; the line itself does."""
    setup_logging("INFO", environ={})
    log = logging.getLogger("carec.test.personal")
    mrz = "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<"
    log_event(log, logging.WARNING, "kiosk.login_failed", login="2468", failures=1)
    log_event(log, logging.INFO, "decision.stored", note="driver Anna was nervous", kind="refuse")
    log_event(log, logging.WARNING, "device.reject", device="p-1", reason=f"bad line {mrz}")
    log.warning("swiped %s", mrz)
    log_event(log, logging.INFO, "x", document_number="L898902C3", pin="1234", surname="ERIKSSON")
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert len(lines) == 5, err
    for secret in ("2468", "Anna", "ERIKSSON", "L898902C3", "1234", "<<"):
        assert secret not in err, (secret, err)
    assert "failures=1" in lines[0]
    assert "kind=refuse" in lines[1]
    assert "device=p-1 reason=[withheld]" in lines[2]
    assert lines[3].endswith("swiped [withheld]")
