"""The centre's ingest benchmarks (issue 14): records per second from a JSON Lines drop file
and from the HTTP API, each stored, signed and routed to the boxes' outboxes, against a plain
`COPY` of the same rows into the same PostgreSQL in the same run.

Every run gets a fresh database, so each ingest stores every record as new (`accepted`).
"""

from __future__ import annotations

import datetime as dt
import random
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import orjson
import psycopg
import uvicorn
from sqlalchemy import Engine, func, select

from centre.api import ApiSettings, create_api
from centre.config import ApiClient, token_sha256
from centre.drop_directory import DropDirectory
from centre.records import RecordDesk
from centre.routing import Routing
from centre.store import open_centre_database
from centre.store.schema import record_routes, records
from edge.manifest import Manifest
from edge.store.schema import outbox
from edge.synthetic import generate_day
from edge.timeutil import format_utc, utcnow
from provisioning.identity.fleet import Fleet
from sync.outbox import Outbox, Route, Signer

CENTRE = "KZ-CIS"
DAY = dt.date(2026, 11, 28)
# Every Kazakh office of the synthetic day has a box: the border post (Nur Zholy) gets every
# record, an import's destination or an export's departure a second one; a transit to
# another country stays on the border box alone. So each record goes to 1 or 2 boxes.
ROUTING = {
    "KZ051900": ["KZ-NURZHOLY-1"],
    "KZ051100": ["KZ-ALMATY-1"],
    "KZ011100": ["KZ-ASTANA-1"],
    "KZ171100": ["KZ-SHYMKENT-1"],
    "KZ091100": ["KZ-KARAGANDA-1"],
}
API_TOKEN = "bench-token-not-a-secret"
API_BATCH = 1000


def make_records(seed: int, count: int) -> list[Manifest]:
    return generate_day(random.Random(seed), DAY, count)


def write_drop_file(path: Path, batch: Sequence[Manifest]) -> int:
    """The records as a CIS drops them (JSON Lines), written under a partial name and renamed,
    as the drop contract asks; its size in bytes."""
    partial = path.with_name(path.name + ".part")
    with partial.open("w", encoding="utf-8") as stream:
        for record in batch:
            stream.write(record.to_json())
            stream.write("\n")
    partial.rename(path)
    return path.stat().st_size


def open_desk(url: str, fleet: Fleet) -> RecordDesk:
    engine = open_centre_database(url)
    box = Outbox(engine, Signer.load(fleet.nodes[CENTRE], CENTRE), [Route("*", "broker")])
    return RecordDesk(engine, box, Routing(ROUTING))


def stored_counts(engine: Engine) -> dict[str, int]:
    """What the ingest left: records, their routes and the outbox's messages (one per box)."""
    with engine.connect() as conn:
        return {
            name: int(conn.execute(select(func.count()).select_from(table)).scalar_one())
            for name, table in (("records", records), ("routes", record_routes),
                                ("outbox", outbox))
        }  # fmt: skip


def drop_ingest(url: str, fleet: Fleet, source: Path, root: Path) -> dict[str, Any]:
    """The drop file taken by a DropDirectory, from its claim to its move to done/."""
    desk = open_desk(url, fleet)
    drop = DropDirectory(root, desk, CENTRE[:2])
    (root / "incoming" / source.name).hardlink_to(source)
    start = time.perf_counter()
    reports = drop.poll()
    seconds = time.perf_counter() - start
    counts = stored_counts(desk.engine)
    desk.engine.dispose()
    report = reports[0]
    if report.outcome != "done" or report.outcomes.get("accepted") != report.records:
        raise RuntimeError(f"drop ingest of {source.name}: {report.to_dict()}")
    return {"seconds": round(seconds, 2), "records_per_s": round(report.records / seconds),
            **counts}  # fmt: skip


@contextmanager
def api_server(desk: RecordDesk) -> Iterator[str]:
    """The real FastAPI app under uvicorn on a loopback port, in a thread; its base URL."""
    client = ApiClient(name="bench", country=CENTRE[:2], token_sha256=token_sha256(API_TOKEN))
    app = create_api(desk, ApiSettings(CENTRE[:2], [client]))
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        base = f"http://127.0.0.1:{port}"
        with httpx.Client(base_url=base, timeout=5) as probe:
            deadline = time.monotonic() + 30
            while not server.started:  # uvicorn says when it listens
                if time.monotonic() > deadline:
                    raise RuntimeError("the API server did not start within 30 s")
                threading.Event().wait(0.05)
            probe.get("/v1/health").raise_for_status()
        yield base
    finally:
        server.should_exit = True
        thread.join(30)
        sock.close()


def api_ingest(url: str, fleet: Fleet, batch: Sequence[Manifest]) -> dict[str, Any]:
    """Batches of 1000 records posted one after another, as a CIS would, over HTTP."""
    desk = open_desk(url, fleet)
    bodies = [
        orjson.dumps([r.model_dump(mode="json", exclude_none=True)
                      for r in batch[i : i + API_BATCH]])
        for i in range(0, len(batch), API_BATCH)
    ]  # fmt: skip
    headers = {"authorization": f"Bearer {API_TOKEN}", "content-type": "application/json"}
    with api_server(desk) as base, httpx.Client(base_url=base, timeout=300) as client:
        start = time.perf_counter()
        accepted = 0
        for body in bodies:
            response = client.post("/v1/records", content=body, headers=headers)
            response.raise_for_status()
            accepted += int(response.json()["accepted"])
        seconds = time.perf_counter() - start
    counts = stored_counts(desk.engine)
    desk.engine.dispose()
    if accepted != len(batch):
        raise RuntimeError(f"API ingest: {accepted} of {len(batch)} records accepted")
    return {"seconds": round(seconds, 2), "records_per_s": round(len(batch) / seconds),
            "requests": len(bodies), **counts}  # fmt: skip


def copy_baseline(url: str, batch: Sequence[Manifest]) -> dict[str, Any]:
    """A plain COPY of the same rows (the records' JSON text and their key columns) into a
    table shaped like the centre's `records` (its columns, keys and indexes), one transaction;
    the rows are built before the clock."""
    engine = open_centre_database(url)  # the centre's schema, for `LIKE cis_records`
    now = format_utc(utcnow())  # as the centre's UtcTime columns hold it
    rows = [(r.issuer, r.ref, r.version, "active", r.to_json(), "copy", now, now) for r in batch]
    raw = engine.raw_connection()
    try:
        conn = raw.driver_connection
        assert isinstance(conn, psycopg.Connection)
        conn.execute("CREATE TABLE copy_records (LIKE cis_records INCLUDING ALL)")
        conn.commit()
        columns = "issuer, ref, version, state, record, source, received_at, updated_at"
        start = time.perf_counter()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY copy_records ({columns}) FROM STDIN") as copy,
        ):
            for row in rows:
                copy.write_row(row)
        conn.commit()
        seconds = time.perf_counter() - start
        stored = conn.execute("SELECT count(*) FROM copy_records").fetchone()
    finally:
        raw.close()
        engine.dispose()
    if stored is None or stored[0] != len(batch):
        raise RuntimeError(f"COPY baseline: {stored} rows of {len(batch)}")
    return {"seconds": round(seconds, 3), "records_per_s": round(len(batch) / seconds)}
