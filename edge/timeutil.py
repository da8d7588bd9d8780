"""Times are UTC, ISO 8601, in storage and on the wire; and the one clock the box reads them from.

Every domain time (arrival windows, retention, envelopes, sessions) comes from `utcnow()`, so one
setting moves all of them: `CAREC_EDGE_CLOCK_OFFSET` (e.g. `+365d`, `-2h`, `+90s`) shifts the
clock of a process and of every process it starts, which is how the test suite proves that no
test depends on today's date, and how a demo can play another day. `set_clock` injects any clock
into one process (tests). X.509 validity is the exception: OpenSSL peers (the broker) check
certificates against the operating system's clock, so certificates are issued and checked on it.
"""

from __future__ import annotations

import datetime as dt
import os
import re
from collections.abc import Callable

CLOCK_OFFSET_ENV = "CAREC_EDGE_CLOCK_OFFSET"

_UNITS = {"d": "days", "h": "hours", "m": "minutes", "s": "seconds"}
_OFFSET = re.compile(r"^([+-])(\d{1,6})([dhms])$")


def system_utcnow() -> dt.datetime:
    """The operating system's clock, unshifted: for what OpenSSL peers check against it."""
    return dt.datetime.now(dt.UTC)


def parse_offset(text: str) -> dt.timedelta:
    """`+365d`, `-2h`, `+30m`, `+90s` as a time difference; anything else is a ValueError."""
    found = _OFFSET.match(text.strip())
    if found is None:
        raise ValueError(
            f"{CLOCK_OFFSET_ENV}={text!r} is not an offset such as +365d, -2h, +30m or +90s"
        )
    sign, amount, unit = found.groups()
    delta = dt.timedelta(**{_UNITS[unit]: int(amount)})
    return -delta if sign == "-" else delta


def offset_clock(offset: dt.timedelta) -> Callable[[], dt.datetime]:
    def now() -> dt.datetime:
        return dt.datetime.now(dt.UTC) + offset

    return now


def _clock_from_environment() -> Callable[[], dt.datetime]:
    text = os.environ.get(CLOCK_OFFSET_ENV, "").strip()
    return offset_clock(parse_offset(text)) if text else system_utcnow


_clock: Callable[[], dt.datetime] = _clock_from_environment()


def utcnow() -> dt.datetime:
    """Now, on the box's clock (the system clock, or the one injected)."""
    return _clock()


def today() -> dt.date:
    return _clock().date()


def set_clock(clock: Callable[[], dt.datetime] | None) -> None:
    """Inject a clock into this process; None returns to the one the environment sets."""
    global _clock
    _clock = clock if clock is not None else _clock_from_environment()


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
