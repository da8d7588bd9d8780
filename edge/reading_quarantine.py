"""Readings the service could not take: a reading whose attaching to its lane raised is kept
here with the reason (for the technician to review) and the service goes on, where the error
would have ended the service and lost the reading.

Bounded: beyond `MAX_ROWS` the oldest rows go, and every row dropped is counted; rows older
than `retention.quarantine_days` go with the retention pass (`purge_older`). A plate crop is
not kept (the row says how large it was): it is a picture of the truck, not what went wrong."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from sqlalchemy import Engine, delete, func, insert, select

from edge.readings import Reading
from edge.store.schema import reading_quarantine
from edge.timeutil import utcnow

MAX_ROWS = 10_000
MAX_REASON_CHARS = 2000


class ReadingQuarantine:
    def __init__(self, engine: Engine, max_rows: int = MAX_ROWS) -> None:
        self.engine = engine
        self.max_rows = max_rows
        self.kept = 0
        self.dropped = 0  # the oldest rows deleted to stay within `max_rows`

    def keep(self, reading: Reading, reason: str) -> int:
        """Store `reading` with `reason` in one transaction; its row id."""
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(reading_quarantine).values(
                    received_at=utcnow(),
                    device=str(reading.device)[:64],
                    kind=str(reading.kind)[:16],
                    reason=reason[:MAX_REASON_CHARS],
                    reading=_as_json(reading),
                )
            )
            row_id = int(result.inserted_primary_key[0])  # type: ignore[index]
            dropped = conn.execute(
                delete(reading_quarantine).where(reading_quarantine.c.id <= row_id - self.max_rows)
            ).rowcount
        self.kept += 1
        self.dropped += dropped
        return row_id

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(reading_quarantine)).scalar_one()
            )


def purge_older(engine: Engine, cutoff: dt.datetime) -> int:
    """Delete the rows received before `cutoff`; how many (at most `MAX_ROWS`: one statement)."""
    with engine.begin() as conn:
        return conn.execute(
            delete(reading_quarantine).where(reading_quarantine.c.received_at < cutoff)
        ).rowcount


def _as_json(reading: Reading) -> str:
    try:
        data: Any = reading.to_dict()
        if "crop_jpeg" in data:  # a marker in place of the picture
            crop = getattr(reading, "crop_jpeg", None) or b""
            data["crop_jpeg"] = f"<not kept: {len(crop)} bytes>"
    except Exception as error:  # the reading may be what is wrong: keep what can be kept
        data = {"unreadable": f"{type(error).__name__}", "repr": repr(reading)[:10_000]}
    return json.dumps(data, ensure_ascii=False, default=str)
