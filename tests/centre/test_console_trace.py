"""The console's read-only pages over real traffic: the boxes with their backlog and last
contact, and the trace of one record from the CIS through the boxes and back. On SQLite and on
PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from centre.store.schema import record_routes
from edge.manifest import parse_manifest
from tests.centre.boxes import Box, arrival, decision
from tests.centre.conftest import KORGAS, NURZHOLY, TORUGART, Centre
from tests.centre.console_helpers import ConsoleUnderTest, centre_inbox, console_under_test
from tests.fixtures.records import record

REF = "26KZ-TRACE-1"


@pytest.fixture
def console(centre: Centre) -> Iterator[ConsoleUnderTest]:
    with console_under_test(centre) as under_test:
        yield under_test


def _row(html: str, row_id: str) -> str:
    found = re.search(rf'<tr[^>]* id="{re.escape(row_id)}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no row {row_id}"
    return found.group(1)


def _cells(row: str) -> list[str]:
    return [
        re.sub(r"<[^>]+>", "", cell).strip()
        for cell in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)
    ]


def _message_to(centre: Centre, node: str) -> str:
    with centre.engine.connect() as conn:
        found = conn.execute(
            select(record_routes.c.message_id).where(record_routes.c.node == node)
        ).scalar_one()
    return str(found)


def test_the_overview_shows_each_box_with_its_backlog_and_last_contact(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    centre = console.centre
    centre.desk.submit([parse_manifest(record(ref=REF))], "api:kz-cis")
    console.login("viktor")
    page = console.client.get("/").text
    # Both boxes of the record's offices, each with one record on its way, never heard from.
    nurzholy = _cells(_row(page, f"box-{NURZHOLY}"))
    korgas = _cells(_row(page, f"box-{KORGAS}"))
    assert nurzholy[0] == NURZHOLY
    assert nurzholy[1] == "KZ051900, KZ052000"
    assert (nurzholy[2], nurzholy[4]) == ("1", "never")
    assert (korgas[2], korgas[4]) == ("1", "never")
    assert nurzholy[3] != "—"  # the age of the oldest message waiting
    # NURZHOLY acknowledges the record and sends an arrival: its backlog is the centre's ack of
    # that arrival, and it was last heard from now.
    with centre.engine.begin() as conn:
        centre.outbox.delivered(conn, [_message_to(centre, NURZHOLY)])
    centre_inbox(centre).receive(
        Box(centre.fleet, NURZHOLY, tmp_path / "box").send([arrival(NURZHOLY, 1)])
    )
    page = console.client.get("/").text
    nurzholy = _cells(_row(page, f"box-{NURZHOLY}"))
    assert nurzholy[2] == "1"
    assert nurzholy[4].endswith("UTC")
    assert _cells(_row(page, f"box-{KORGAS}"))[4] == "never"
    assert f"box-{TORUGART}" not in page  # routed to nothing, sent nothing


def test_a_records_trace_shows_its_versions_the_boxes_holding_them_and_their_events(
    console: ConsoleUnderTest, tmp_path: Path
) -> None:
    centre = console.centre
    centre.desk.submit([parse_manifest(record(ref=REF))], "api:kz-cis")
    # Version 2 leaves the office of departure: KORGAS no longer concerned, it gets a withdrawal.
    amended = record(ref=REF, version=2, office_departure=None)
    centre.desk.submit([parse_manifest(amended)], "drop:day-2.jsonl")
    with centre.engine.begin() as conn:
        centre.outbox.delivered(conn, [_message_to(centre, NURZHOLY)])
    box = Box(centre.fleet, NURZHOLY, tmp_path / "box")
    centre_inbox(centre).receive(box.send([arrival(NURZHOLY, 5, REF), decision(NURZHOLY, 5, REF)]))
    centre_inbox(centre).receive(box.send([arrival(NURZHOLY, 6, "ANOTHER-REF")]))

    console.login("viktor")
    page = console.client.get("/trace", params={"ref": REF}).text
    assert f'id="trace-KZ-CIS-{REF}"' in page
    assert '<dd id="trace-version">2</dd>' in page
    steps = [_cells(row)[1:3] for row in re.findall(r'<tr class="step">(.*?)</tr>', page, re.S)]
    assert ["1", "accepted"] in steps
    assert ["1", "routed"] in steps
    assert ["2", "amended"] in steps
    assert ["2", "withdrawn"] in steps
    held = _cells(_row(page, f"copy-{NURZHOLY}"))
    assert (held[1], held[2], held[4]) == ("2", "held", "delivered")
    gone = _cells(_row(page, f"copy-{KORGAS}"))
    assert (gone[1], gone[2], gone[4]) == ("2", "withdrawn", "pending")
    box_events = [_cells(row) for row in re.findall(r'<tr class="event">(.*?)</tr>', page, re.S)]
    assert [(e[1], e[2], e[3]) for e in box_events] == [
        (NURZHOLY, "arrival", "lane 1"), (NURZHOLY, "decision", "release (CLEAR)"),
    ]  # fmt: skip


def test_an_unknown_ref_is_said_to_be_unknown(console: ConsoleUnderTest) -> None:
    console.login("olga")
    page = console.client.get("/trace", params={"ref": "NOT-A-REF"}).text
    assert 'id="trace-none"' in page
    assert console.client.get("/trace", params={"ref": "x" * 36}).status_code == 422
