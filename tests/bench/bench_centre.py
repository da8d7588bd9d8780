"""The national centre's benchmarks (issue 14), one JSON object a line:

- `centre_ingest_drop`: a generated JSON Lines file (seed fixed, in the JSON) taken by the
  drop directory into PostgreSQL, each record stored, signed and routed to the outboxes of
  1 or 2 boxes, in chunks of 1000 a transaction; records/s against a plain `COPY` of the same
  rows into the same PostgreSQL, in the same run; and the same ingest on SQLite, for reference;
- `centre_ingest_api`: the same records posted to the real FastAPI app under uvicorn on
  loopback, 1000 a request, into a fresh PostgreSQL database, against the same `COPY`;
- `centre_day`: a country's day, 100 boxes sending arrivals, readings and decisions through
  a real mosquitto with mutual TLS to one centre instance on PostgreSQL
  (`tests.bench.bench_centre_day`; target: 150,000 messages in 60 s).

    .venv/bin/python -m tests.bench.bench_centre [--records N] [--api-records N]
        [--day-messages N] [--frame N] [--lead N] [--only drop,api,day]

`make bench` runs the defaults, about five minutes in all: 10,000 records for the ingests
(the issue's 100,000 with `--records 100000`, some twenty minutes at today's rates) and the
full day of 150,000 messages in frames of 64 (`--frame 1`, the live day's shape, takes
three to four minutes more).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from centre.drop_directory import CHUNK
from provisioning.identity.fleet import make_fleet
from tests.bench.bench_centre_day import FULL_DAY, LEAD_MQTT_MESSAGES, run_day
from tests.bench.bench_centre_ingest import (
    API_BATCH,
    CENTRE,
    ROUTING,
    api_ingest,
    copy_baseline,
    drop_ingest,
    make_records,
    write_drop_file,
)
from tests.fixtures.postgres import postgres_server

SEED = 1414
PARTS = ("drop", "api", "day")


def ratio(ours: dict[str, Any], baseline: dict[str, Any]) -> float:
    return round(float(ours["records_per_s"]) / float(baseline["records_per_s"]), 4)


def ingest(records: int, api_records: int, seed: int, parts: set[str]) -> Iterator[dict[str, Any]]:
    """Each part's result as soon as it is measured."""
    if not parts:
        return
    batch = make_records(seed, max(records, api_records))
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as postgres:
        root = Path(tmp)
        fleet = make_fleet(root / "fleet", [CENTRE])
        if "drop" in parts:
            source = root / "kz-cis-day.jsonl"
            size = write_drop_file(source, batch[:records])
            copy = copy_baseline(postgres.create_database(), batch[:records])
            on_postgres = drop_ingest(postgres.create_database(), fleet, source, root / "pg")
            on_sqlite = drop_ingest(f"sqlite:///{root}/centre.sqlite3", fleet, source, root / "sq")
            yield {
                "benchmark": "centre_ingest_drop", "records": records, "seed": seed,
                "file_bytes": size, "records_per_transaction": CHUNK, "routing": ROUTING,
                "postgresql": on_postgres, "baseline_copy_postgresql": copy,
                "ratio_to_copy": ratio(on_postgres, copy), "sqlite": on_sqlite,
                "measures": "DropDirectory.poll of one file: read, checked, stored, signed, "
                "routed (one manifest message per box), moved to done/; COPY: the records' "
                "JSON text and key columns into a table LIKE cis_records, rows built before "
                "the clock, one transaction",
            }  # fmt: skip
        if "api" in parts:
            copy = copy_baseline(postgres.create_database(), batch[:api_records])
            over_http = api_ingest(postgres.create_database(), fleet, batch[:api_records])
            yield {
                "benchmark": "centre_ingest_api", "records": api_records, "seed": seed,
                "records_per_request": API_BATCH, "postgresql": over_http,
                "baseline_copy_postgresql": copy, "ratio_to_copy": ratio(over_http, copy),
                "measures": "POST /v1/records over HTTP on loopback (uvicorn, one client, "
                "requests one after another, bodies built before the clock) to the last "
                "response",
            }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=10_000, help="in the drop file")
    parser.add_argument("--api-records", type=int, help="posted to the API (default: --records)")
    parser.add_argument("--seed", type=int, default=SEED, help="of the generated records")
    parser.add_argument("--day-messages", type=int, default=FULL_DAY)
    parser.add_argument("--boxes", type=int, default=100)
    parser.add_argument("--publishers", type=int, default=2, help="processes playing the boxes")
    parser.add_argument(
        "--frame", type=int, default=64,
        help="envelopes per MQTT message: 64, what a box's link packs from a queue (the day "
        "is compressed, so each box has its day queued); 1, a live day's one at a time",
    )  # fmt: skip
    parser.add_argument(
        "--lead", type=int,
        help="envelopes the boxes may be ahead of what the centre applied (default: 900 "
        "MQTT messages' worth, under the centre's Receive Maximum of 1000; 0: no bound)",
    )  # fmt: skip
    parser.add_argument("--deadline", type=float, default=1800, help="seconds, for the day")
    parser.add_argument("--only", default=",".join(PARTS), help="of drop, api, day")
    args = parser.parse_args(argv)
    parts = set(args.only.split(","))
    if not parts <= set(PARTS):
        parser.error(f"--only: {args.only!r}; use a comma-separated list of {', '.join(PARTS)}")
    api_records = args.api_records if args.api_records is not None else args.records
    for result in ingest(args.records, api_records, args.seed, parts & {"drop", "api"}):
        print(json.dumps(result), flush=True)
    if "day" in parts:
        lead = args.lead if args.lead is not None else LEAD_MQTT_MESSAGES * args.frame
        day = run_day(args.day_messages, args.boxes, args.publishers, args.frame, args.seed,
                      args.deadline, lead)  # fmt: skip
        print(json.dumps(day), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
