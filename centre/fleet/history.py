"""Health history, downsampled as it comes: each report folded into its 5-minute and its
hourly bucket (`fleet_health_history`: per box, resolution and bucket, the sample count and
per metric [sum, min, max]), so a chart reads buckets, not reports, and the table holds at
most boxes x buckets kept."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

import orjson
from sqlalchemy import Connection, Table, select

from centre.store.schema import fleet_health_history as history
from edge.timeutil import format_utc
from sync.messages import HealthMessage

RESOLUTIONS = (300, 3600)
METRICS = (
    "disk_used_pct", "database_mb", "clock_offset_ms", "oldest_unsent_evidence_s", "backlog",
    "devices_disconnected",
)  # fmt: skip
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)

Folded = dict[str, list[float]]  # metric -> [sum, min, max]


def metrics_of(report: HealthMessage) -> dict[str, float]:
    values: dict[str, float] = {
        "disk_used_pct": report.disk_used_pct,
        "database_mb": report.database_mb,
        "backlog": float(sum(b.waiting for b in report.backlog)),
        "devices_disconnected": float(sum(d.health == "disconnected" for d in report.devices)),
    }
    # Nothing unsent is an age of 0; an unknown clock offset is left out of its bucket.
    values["oldest_unsent_evidence_s"] = float(report.oldest_unsent_evidence_s or 0)
    if report.clock.offset_ms is not None:
        values["clock_offset_ms"] = report.clock.offset_ms
    return values


def bucket_of(at: dt.datetime, resolution: int) -> dt.datetime:
    seconds = int((at - _EPOCH).total_seconds())
    return _EPOCH + dt.timedelta(seconds=seconds - seconds % resolution)


def _fold(into: Folded, values: dict[str, float]) -> None:
    for name, value in values.items():
        held = into.get(name)
        if held is None:
            into[name] = [value, value, value]
        else:
            held[0] += value
            held[1] = min(held[1], value)
            held[2] = max(held[2], value)


def fold_history(
    conn: Connection, reports: Sequence[tuple[str, dt.datetime, HealthMessage]]
) -> None:
    """Fold (node, time, report)s into their buckets: one read of the buckets they touch, one
    insert of the new ones and one update of the others. A box's reports are applied by one
    inbox at a time (its health stream's lock), so a bucket is never folded twice at once."""
    touched: dict[tuple[str, int, dt.datetime], tuple[int, Folded]] = {}
    for node, at, report in reports:
        values = metrics_of(report)
        for resolution in RESOLUTIONS:
            key = (node, resolution, bucket_of(at, resolution))
            samples, folded = touched.get(key, (0, {}))
            _fold(folded, values)
            touched[key] = (samples + 1, folded)
    if not touched:
        return
    nodes = sorted({key[0] for key in touched})
    buckets = sorted({key[2] for key in touched})
    stored = {
        (row.node_id, row.resolution_s, row.bucket): row
        for row in conn.execute(
            select(history).where(history.c.node_id.in_(nodes), history.c.bucket.in_(buckets))
        )
    }
    rows: list[dict[str, object]] = []
    for key, (samples, folded) in touched.items():
        row = stored.get(key)
        if row is not None:
            merged: Folded = orjson.loads(row.metrics)
            for name, (total, low, high) in folded.items():
                held = merged.get(name)
                merged[name] = (
                    [total, low, high] if held is None
                    else [held[0] + total, min(held[1], low), max(held[2], high)]
                )  # fmt: skip
            folded, samples = merged, row.samples + samples
        rows.append({
            "node_id": key[0], "resolution_s": key[1], "bucket": key[2],
            "samples": samples, "metrics": orjson.dumps(folded).decode(),
        })  # fmt: skip
    upsert(conn, history, rows, ("node_id", "resolution_s", "bucket"), ("samples", "metrics"))


# Rows per upsert statement (SQLite binds at most 32,766 parameters).
UPSERT_ROWS = 1000


def upsert(
    conn: Connection,
    table: Table,
    rows: Sequence[dict[str, object]],
    keys: Sequence[str],
    columns: Sequence[str],
) -> None:
    """Insert `rows`, or set `columns` of those whose `keys` are there already: one plain
    statement per thousand rows through the driver (an executemany of updates is a round trip
    per row on PostgreSQL, and SQLAlchemy would compile each statement of a new size anew).
    Times are written as `edge.store.schema.UtcTime` writes them."""
    if not rows:
        return
    names = list(rows[0])
    mark = "%s" if conn.dialect.name == "postgresql" else "?"
    one = "(" + ", ".join([mark] * len(names)) + ")"
    updates = ", ".join(f"{c} = excluded.{c}" for c in columns)
    for first in range(0, len(rows), UPSERT_ROWS):
        chunk = rows[first : first + UPSERT_ROWS]
        sql = (
            f"INSERT INTO {table.name} ({', '.join(names)}) VALUES {', '.join([one] * len(chunk))}"
            f" ON CONFLICT ({', '.join(keys)}) DO UPDATE SET {updates}"
        )
        values = tuple(
            format_utc(value) if isinstance(value, dt.datetime) else value
            for row in chunk for value in (row[name] for name in names)
        )  # fmt: skip
        conn.exec_driver_sql(sql, values)


def read_history(
    conn: Connection, node_id: str, metric: str, since: dt.datetime, resolution: int
) -> list[tuple[dt.datetime, float, float, float]]:
    """(bucket, mean, min, max) of `metric` from `since` on, oldest first; buckets without
    the metric are left out."""
    rows = conn.execute(
        select(history.c.bucket, history.c.samples, history.c.metrics)
        .where(history.c.node_id == node_id, history.c.resolution_s == resolution,
               history.c.bucket >= bucket_of(since, resolution))
        .order_by(history.c.bucket)
    )  # fmt: skip
    out = []
    for bucket, samples, text in rows:
        value = orjson.loads(text).get(metric)
        if value is not None and samples:
            # Over every sample: a box that cannot tell its clock offset (rare) lowers its mean.
            out.append((bucket, value[0] / samples, value[1], value[2]))
    return out
