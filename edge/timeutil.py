"""Times are UTC, ISO 8601, in storage and on the wire."""

from __future__ import annotations

import datetime as dt


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def parse_utc(text: str) -> dt.datetime:
    """Parse an ISO 8601 time that states its offset; the result is in UTC."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time such as 2026-11-28T08:30:00Z") from None
    if moment.tzinfo is None:
        raise ValueError(f"{text!r} has no UTC offset; write it as 2026-11-28T08:30:00Z")
    return moment.astimezone(dt.UTC)


def format_utc(moment: dt.datetime) -> str:
    """Fixed width, so stored times sort as text: 2026-11-28T08:30:00.000000Z."""
    if moment.utcoffset() != _ZERO:
        moment = moment.astimezone(dt.UTC)
    # isoformat is several times faster than strftime; the first 26 characters leave the offset.
    return moment.isoformat(timespec="microseconds")[:26] + "Z"


_ZERO = dt.timedelta(0)
