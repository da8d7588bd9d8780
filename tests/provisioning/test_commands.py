"""Commands from the centre on the box, with its real store, outbox and inbox: recorded once
by their id, refused when expired or for another box, their results sent back and sent again
when the same command comes again; the self-test's and the diagnostics bundle's output."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from sqlalchemy import func, select

from edge.logs import log_event
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.service.fleet_agent import RecentLines
from edge.store.schema import box_commands
from edge.timeutil import utcnow
from provisioning.fleet import diagnostics
from provisioning.fleet.commands import CommandOutcome, self_test, store_check
from provisioning.fleet.diagnostics import known_personal_words
from provisioning.fleet.health_report import DeviceFigure
from sync.messages import CommandResultMessage
from tests.fixtures.records import CONTRACT_EXAMPLE
from tests.provisioning.fleet_box import BOX, FleetBox, command, make_box, outcomes


def results(box: FleetBox) -> list[tuple[str, str, str]]:
    found: list[tuple[str, str, str]] = []
    for message in box.sent("command_result"):
        assert isinstance(message, CommandResultMessage)
        found.append((message.command_id, message.outcome, message.output))
    return found


def rows(box: FleetBox) -> int:
    with box.engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(box_commands)).scalar_one())


def test_a_command_delivered_twice_is_executed_once_and_its_first_result_sent_again(
    tmp_path: Path,
) -> None:
    box = make_box(tmp_path)
    restart = command("restart")

    assert outcomes(box.send(restart)) == ["applied"]
    assert outcomes(box.send(restart)) == ["applied"]  # the same command in a new envelope
    pending = box.commands.pending()
    assert [(p.command_id, p.action) for p in pending] == [(restart.command_id, "restart")]
    assert box.pending_woken == 1

    executed = []
    for each in pending:  # what the wiring's task does: execute, then record and send
        executed.append(each.command_id)
        box.commands.finish(each.command_id, CommandOutcome("done", "restarting the service"))
    assert box.commands.pending() == []

    box.send(restart)  # once more, after it ran

    assert executed == [restart.command_id]
    assert rows(box) == 1
    assert results(box) == [(restart.command_id, "done", "restarting the service")] * 2


def test_an_expired_command_is_refused_as_expired(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    late = command("self_test", expires_in=dt.timedelta(seconds=-1))

    box.send(late)

    assert box.commands.pending() == []
    ((command_id, outcome, output),) = results(box)
    assert (command_id, outcome) == (late.command_id, "expired")
    assert output.startswith("expired at ")


def test_a_command_for_another_box_is_refused(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    elsewhere = command("reboot", node="KZ-KORGAS-1")

    box.send(elsewhere)

    assert box.commands.pending() == []
    assert results(box) == [
        (elsewhere.command_id, "refused", f"addressed to KZ-KORGAS-1; this box is {BOX}")
    ]


def test_a_command_from_another_node_than_the_centre_is_quarantined(tmp_path: Path) -> None:
    box = make_box(tmp_path)

    assert outcomes(box.send(command("reboot"), origin="KZ-KORGAS-1")) == ["quarantined"]
    assert rows(box) == 0


def test_the_self_test_sums_up_the_store_and_each_device(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    devices = [
        DeviceFigure("scanner-1", "barcode", "1", "connected"),
        DeviceFigure("mrz-1", "mrz", "1", "disconnected", "no such port /dev/ttyUSB9"),
    ]

    assert store_check(box.engine) == "ok"
    outcome = self_test(devices, store_check(box.engine))
    healthy = self_test(devices[:1], "ok")

    assert outcome.outcome == "failed"
    assert outcome.output.splitlines() == [
        "self-test FAILED",
        "store: ok",
        "device scanner-1 (barcode, lane 1): connected",
        "device mrz-1 (mrz, lane 1): disconnected (no such port /dev/ttyUSB9)",
    ]
    assert healthy.outcome == "done"
    assert healthy.output.splitlines()[0] == "self-test passed"


def test_the_diagnostics_bundle_holds_no_document_number_nor_name(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    ManifestCache(box.engine).upsert([parse_manifest(CONTRACT_EXAMPLE)])  # the store's test data
    driver = CONTRACT_EXAMPLE["driver"]
    number, name = driver["document_number"], driver["name"]  # N12345678, IVANOV IVAN
    surname, given = name.split()
    mrz = f"P<KAZ{surname}<<{given}<<<<<<<<<<<<<<<<<<<<<<<<<<"
    recent = RecentLines()
    logger = logging.getLogger("tests.diagnostics")
    logger.addHandler(recent)
    logger.setLevel(logging.INFO)
    try:
        log_event(logger, logging.INFO, "arrival.reading", device="mrz-1", holder=name)
        log_event(logger, logging.INFO, "scan.odd", text=mrz)
        logger.info("a careless line: document %s of %s", number.lower(), name.title())
    finally:
        logger.removeHandler(recent)
    lines = [*recent.lines, f"by hand: name={name!r} passport {number}"]
    config = {"node": {"id": BOX}, "sync": {"identity_dir": "/id", "api_token": "s3cret"}}
    known, after = known_personal_words(box.engine)
    assert after is None
    assert {surname.lower(), given.lower(), number.lower()} <= known

    encoded, kept = diagnostics.bundle(
        lines, config, {"waiting": 3}, {"carec-edge": "0.1.0"}, known=known
    )

    files = diagnostics.unpack(encoded)
    assert sorted(files) == ["config.json", "log.txt", "sync-status.json", "versions.json"]
    assert kept == 4
    everything = "\n".join(files.values()).lower()
    assert number.lower() not in everything
    assert surname.lower() not in everything
    assert given.lower() not in everything
    assert "s3cret" not in everything
    assert '"identity_dir": "/id"' in files["config.json"]
    assert "a careless line: document [withheld] of [withheld] [withheld]" in files["log.txt"]
    assert len(encoded) <= 256 * 1024


def test_a_diagnostics_bundle_too_large_keeps_the_newest_log_lines(tmp_path: Path) -> None:
    lines = [f"{utcnow().isoformat()} INFO line {i} " + "x" * 200 for i in range(20_000)]

    encoded, kept = diagnostics.bundle(lines, {}, {}, {}, limit=64 * 1024)

    assert len(encoded) <= 64 * 1024
    assert 0 < kept < len(lines)
    log = diagnostics.unpack(encoded)["log.txt"]
    assert f"line {len(lines) - 1} " in log
