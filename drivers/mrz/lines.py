"""From what a document reader sends to MRZ lines of one format, or an `MrzFormatError` saying
why the text cannot be an MRZ at all."""

from __future__ import annotations

import string
from collections.abc import Iterable

from drivers.mrz.layouts import MRV_A, MRV_B, TD1, TD2, TD3, Layout
from drivers.mrz.result import MrzFormatError

_TO_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)
_CONCATENATED = {90: TD1, 72: TD2, 88: TD3}  # all lines sent without separators


def split_lines(text: str | Iterable[str]) -> tuple[str, ...]:
    """The non-blank lines, stripped and in upper case; one run of 90, 72 or 88 characters is
    cut into the lines of TD1, TD2 or TD3, and one line with inner blanks is cut at them."""
    chunks = [text] if isinstance(text, str) else list(text)
    lines = [line.strip() for chunk in chunks for line in chunk.splitlines()]
    lines = [line.translate(_TO_UPPER) for line in lines if line]
    if len(lines) == 1:
        lines = _unjoin(lines[0])
    return tuple(lines)


def _unjoin(line: str) -> list[str]:
    layout = _CONCATENATED.get(len(line))
    if layout is not None:
        length = layout.line_length
        return [line[i * length : (i + 1) * length] for i in range(layout.line_count)]
    return line.split()


def choose_layout(lines: tuple[str, ...]) -> Layout:
    """The format the lines are in; MrzFormatError when their number or lengths fit none."""
    if not lines:
        raise MrzFormatError("no MRZ: the input is empty")
    if len(lines) == 1:
        raise MrzFormatError(
            f"one line of {len(lines[0])} characters: an MRZ has 2 or 3 lines, or all of them"
            " in one run of 90 (TD1), 72 (TD2) or 88 (TD3) characters"
        )
    if len(lines) > 3:
        raise MrzFormatError(f"{len(lines)} lines: an MRZ has 3 (TD1) or 2 (TD2, TD3, visas)")
    layout = TD1 if len(lines) == 3 else _two_line_layout(lines)
    for number, line in enumerate(lines, start=1):
        if len(line) != layout.line_length:
            raise MrzFormatError(
                f"line {number} has {len(line)} characters,"
                f" expected {layout.line_length} for {layout.format}"
            )
    return layout


def _two_line_layout(lines: tuple[str, ...]) -> Layout:
    lengths = [len(line) for line in lines if len(line) in (36, 44)]
    if not lengths:
        raise MrzFormatError(
            f"lines of {len(lines[0])} and {len(lines[1])} characters:"
            " a 2-line MRZ has lines of 36 (TD2, MRV-B) or 44 (TD3, MRV-A)"
        )
    visa = lines[0].startswith("V")
    if lengths[0] == 44:
        return MRV_A if visa else TD3
    return MRV_B if visa else TD2
