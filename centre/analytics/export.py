"""A table as CSV (RFC 4180 quoting, a header of column ids), guarded against formula
injection: a text cell starting with =, +, -, @, a tab or a carriage return is written with a
leading apostrophe, so a spreadsheet shows it as text; numbers (-3.5 included) stay numbers."""

from __future__ import annotations

import csv
import io
import re

from centre.analytics.tables import Table, format_cell

_NUMBER = re.compile(r"^-?\d+(\.\d+)?$")
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def guarded(text: str) -> str:
    if text.startswith(_FORMULA_START) and not _NUMBER.match(text):
        return "'" + text
    return text


def to_csv(table: Table) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([c.id for c in table.columns])
    for row in table.rows:
        writer.writerow(
            [
                guarded(format_cell(value, c.kind))
                for value, c in zip(row, table.columns, strict=True)
            ]
        )
    return buffer.getvalue()
