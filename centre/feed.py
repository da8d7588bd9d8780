"""The CIS's event feed: the boxes' events after a cursor, oldest first. The cursor is the
event's id in `cis_events`, which grows in the order the centre applied them, so a CIS that
keeps the last id it has read misses nothing and reads nothing twice."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Engine, select

from centre.store.schema import events
from edge.timeutil import format_utc

MAX_PAGE = 1000


@dataclass(frozen=True)
class FeedPage:
    events: list[dict[str, Any]]
    cursor: int  # pass it as `after` for the next page (the same when nothing was new)


def read_feed(engine: Engine, after: int, limit: int, types: tuple[str, ...] = ()) -> FeedPage:
    limit = max(1, min(limit, MAX_PAGE))
    statement = select(events).where(events.c.id > after).order_by(events.c.id).limit(limit)
    if types:
        statement = statement.where(events.c.type.in_(types))
    with engine.connect() as conn:
        rows = conn.execute(statement).all()
    page = [
        {
            "cursor": row.id, "message_id": row.message_id, "type": row.type,
            "origin": row.origin, "created": format_utc(row.created_at),
            "received": format_utc(row.received_at), "payload": orjson.loads(row.payload),
        }
        for row in rows
    ]  # fmt: skip
    return FeedPage(page, rows[-1].id if rows else after)
