"""What the format mappings share: numbers as the formats write them, and contract reasons
told with the place in the file their field came from."""

from __future__ import annotations

import re
from decimal import Decimal


def decimal_text(value: float) -> str:
    """The shortest text that reads back as `value`, positional: neither EDIFACT numbers nor
    NCTS decimals have an exponent (1e-05 is written 0.00001, 11850.0 as 11850)."""
    text = format(Decimal(repr(value)), "f")
    return text[:-2] if text.endswith(".0") else text


def locate(reason: str, sources: dict[str, str], fallback: dict[str, str]) -> str:
    """`goods[0].hs_code: ...` with where that field was read (`sources`, by the longest
    path that has one), or where it would have been (`fallback`, by top-level field)."""
    path = reason.split(":", 1)[0]
    probe = path
    while probe:
        if probe in sources:
            return f"{reason} ({sources[probe]})"
        cut = max(probe.rfind("."), probe.rfind("["))
        probe = probe[:cut] if cut > 0 else ""
    top = re.split(r"[.\[]", path, maxsplit=1)[0]
    return f"{reason} ({fallback[top]})" if top in fallback else reason
