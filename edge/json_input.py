"""One strict JSON reader for every boundary: manifest lines, bundle lines, envelopes, device
payloads, kiosk bodies. Python's json module accepts what a customs record must not carry
(a second `ref` that silently wins, NaN, nesting deep enough to raise RecursionError); this
refuses each with a reason that names where the input came from, and never raises anything but
JsonInputError (a ValueError)."""

from __future__ import annotations

import json
import re
from typing import Any

# Deeper than any record of the contract (about 4 levels) by far, and far below the recursion
# limit of the json module, which must never be reached: RecursionError ends an import.
MAX_DEPTH = 32

_STRINGS = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_BRACKETS = re.compile(rb"[\[\]{}]")


class JsonInputError(ValueError):
    """Input that is not the JSON we accept; the message says where and why."""


def nesting_depth(raw: bytes) -> int:
    """How deep arrays and objects nest in `raw`, counted without parsing (brackets inside
    strings are not counted). Cost: one pass over the strings, one over the brackets."""
    depth = deepest = 0
    for bracket in _BRACKETS.finditer(_STRINGS.sub(b"", raw)):
        if bracket.group() in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        else:
            depth -= 1
    return deepest


def refuse_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def parse_json(raw: bytes | str, where: str, *, max_depth: int = MAX_DEPTH) -> Any:
    """The value `raw` holds, or JsonInputError naming `where`: not UTF-8, not JSON, a duplicate
    key, NaN or Infinity, or nesting deeper than `max_depth`."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    # Fewer brackets than the limit cannot nest deeper than it: most inputs skip the scan.
    if data.count(b"[") + data.count(b"{") > max_depth:
        depth = nesting_depth(data)
        if depth > max_depth:
            raise JsonInputError(
                f"{where}: nested {depth} levels deep; at most {max_depth} allowed"
            )
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as error:
        raise JsonInputError(f"{where}: not UTF-8 (byte {error.start})") from None
    try:
        return json.loads(text, object_pairs_hook=refuse_duplicates, parse_constant=refuse_constant)
    except (ValueError, RecursionError) as error:
        raise JsonInputError(f"{where}: not JSON: {error}") from None


def parse_json_object(
    raw: bytes | str, where: str, *, max_depth: int = MAX_DEPTH
) -> dict[str, Any]:
    value = parse_json(raw, where, max_depth=max_depth)
    if not isinstance(value, dict):
        raise JsonInputError(f"{where}: expected a JSON object, not {type(value).__name__}")
    return value
