"""CSV files of the analytics' tables: quoted as RFC 4180 says, read back to the same cells,
and safe to open in a spreadsheet (no cell starts a formula)."""

from __future__ import annotations

import csv
import io

from centre.analytics.collect import Period, compute
from centre.analytics.export import guarded, to_csv
from centre.analytics.tables import Column, Table, days_table, format_cell, posts_table
from tests.centre.analytics.scenario import LINKS, Scenario
from tests.centre.conftest import CENTRE, KORGAS


def read_back(text: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text, newline="")))


def test_a_table_read_back_from_its_csv_has_the_same_cells(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    for table in (posts_table(analytics), days_table(analytics, [KORGAS])):
        rows = read_back(to_csv(table))
        assert rows[0] == [c.id for c in table.columns]
        assert rows[1:] == [
            [format_cell(v, c.kind) for v, c in zip(row, table.columns, strict=True)]
            for row in table.rows
        ]
        assert len(rows) > 2


def test_cells_that_would_start_a_formula_are_written_as_text_and_quoting_holds() -> None:
    columns = (Column("name", "Name"), Column("value", "Value", "diff"))
    hostile = (
        "=HYPERLINK(\"http://x\")", "+1+1", "-2+3", "@SUM(A1)", "\tTAB", "a,b \"c\"\nd",
    )  # fmt: skip
    table = Table("t", "T", columns, tuple((name, -3.25) for name in hostile))
    rows = read_back(to_csv(table))
    assert [row[0] for row in rows[1:]] == [
        "'=HYPERLINK(\"http://x\")", "'+1+1", "'-2+3", "'@SUM(A1)", "'\tTAB", "a,b \"c\"\nd",
    ]  # fmt: skip
    assert {row[1] for row in rows[1:]} == {"-3.2"}  # a negative number stays a number
    assert guarded("-12.5") == "-12.5"
    assert guarded("KZ-NURZHOLY-1") == "KZ-NURZHOLY-1"
