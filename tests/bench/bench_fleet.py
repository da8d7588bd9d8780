"""The fleet's scale benchmark (issue 15): 1,000 boxes reporting health every 30 s to one
centre instance, on one core.

Each box is a node of a real fleet PKI (its own Ed25519 key and certificate from the country's
CA), and each report a real signed envelope of its `health` stream, signed before the clock
starts (each box signs on its own CPU in the field). The reports go through the centre's real
inbox as its broker link hands them over (`Inbox.check` then `Inbox.apply`, batches of up to
`sync.transport.RECEIVE_BATCH`), with the centre's own appliers (`centre.box_events`): the
latest report, its colour, its alerts and its history buckets (health is telemetry: applied as
it comes, no stream order, no acknowledgement; the broker's PUBACK is its last). The whole process is pinned to one core
(`os.sched_setaffinity`).

- `throughput`: every report of `--minutes` of reports (a backlog, e.g. after an outage),
  applied as fast as it goes: CPU ms per report and reports/s, against the 1000/30 = 33.3 a
  fleet of 1,000 needs (`headroom`);
- `live`: then `--live-s` seconds more at the real rate (33.3 reports/s, each box at its own
  offset in its 30 s), a batch being whatever arrived meanwhile: the lag of the newest report
  applied behind its arrival (p50, p99, max), and the CPU share of the core;
- `baseline`: the same boxes, the same number of envelopes, `telemetry` messages of about the
  same size through the same inbox into a fresh store (one insert each, unordered, no acks);
- the store after: rows per fleet table, history rows per box (bounded: 576 five-minute and
  2,160 hourly buckets per box at the default retention).

    .venv/bin/python -m tests.bench.bench_fleet [--boxes N] [--minutes M] [--live-s S]
        [--cpu N] [--postgresql]

SQLite by default (everything in this one process, so its CPU is all the work); with
`--postgresql` the store is a fresh PostgreSQL whose server's CPU is not counted.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import os
import queue
import random
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, func, select

from centre.box_events import centre_acknowledger, centre_appliers
from centre.fleet.reports import FleetReports
from centre.store import open_centre_database
from centre.store.schema import fleet_alerts, fleet_health, fleet_health_history
from edge.store.schema import inbox_applied, outbox, peer_events
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.envelope import default_stream, seal_new
from sync.inbox import Inbox, Incoming, Outcome
from sync.messages import (
    BacklogReport,
    ClockReport,
    DeviceHealthReport,
    HealthMessage,
    Message,
    Priority,
    TelemetryMessage,
)
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.topics import topic_for
from sync.transport import RECEIVE_BATCH
from tests.fixtures.postgres import postgres_server

CENTRE = "KZ-CIS"
PERIOD_S = 30.0
SEED = 1515


@dataclass(frozen=True)
class Report:
    arrives_s: float  # from the start of the span
    incoming: Incoming


def box_ids(boxes: int) -> list[str]:
    return [f"KZ-B{i:04d}-1" for i in range(boxes)]


def health(rng: random.Random, node: str, at: dt.datetime, sick: bool) -> HealthMessage:
    """A box's report: most boxes well, a few with a device that comes and goes or a full
    disk (so alerts are raised and cleared as the fleet runs)."""
    down = sick and rng.random() < 0.5
    devices = tuple(
        DeviceHealthReport(id=f"{kind}-1", kind=kind, lane=str(1 + n % 2),
                           health="disconnected" if down and n == 0 else "connected")
        for n, kind in enumerate(("camera", "seal_reader", "mrz_reader", "scanner"))
    )  # fmt: skip
    return HealthMessage(
        node=node, at=at, service="ok", devices=devices, plate_worker="ok",
        disk_used_pct=round(rng.uniform(91, 95) if sick and not down else rng.uniform(20, 70), 1),
        disk_free_mb=rng.randint(20_000, 400_000), database_mb=round(rng.uniform(50, 900), 1),
        backlog=tuple(BacklogReport(peer="centre", priority=p, waiting=rng.randint(0, 20))
                      for p in (Priority.EVIDENCE, Priority.OPERATIONAL, Priority.TELEMETRY)),
        oldest_unsent_evidence_s=rng.choice((None, rng.randint(0, 600))),
        clock=ClockReport(source="chrony", synchronised=True,
                          offset_ms=round(rng.uniform(-40, 40), 2)),
        certificate_not_after=at + dt.timedelta(days=300), software_version="1.4.0",
        model_version="plates-2026.11", last_decision_at=at - dt.timedelta(minutes=3),
    )  # fmt: skip


def telemetry_like(rng: random.Random, size: int) -> TelemetryMessage:
    """A telemetry message whose envelope is about as large as a health report's."""
    metrics: dict[str, float | int | bool] = {}
    while len(json.dumps(metrics)) < size:
        metrics[f"lane{len(metrics) % 4}.metric_{len(metrics)}"] = round(rng.uniform(0, 1e4), 2)
    return TelemetryMessage(metrics=metrics)


def signed_span(
    fleet: Fleet, nodes: Sequence[str], minutes: float, start: dt.datetime, kind: str, seed: int,
    size: int = 0,
) -> list[Report]:  # fmt: skip
    """Every box's reports of the span, signed, in arrival order (each box at its own offset
    within the period)."""
    rng = random.Random(seed)
    span_s = minutes * 60
    sick = set(rng.sample(list(nodes), max(1, len(nodes) // 50)))
    reports: list[Report] = []
    for node in nodes:
        signer = Signer.load(fleet.nodes[node], node)
        offset = rng.uniform(0, PERIOD_S)
        message_type = "health" if kind == "health" else "telemetry"
        stream = default_stream(node, CENTRE, message_type)
        topic = topic_for(node, CENTRE, message_type)
        for k in range(int(span_s // PERIOD_S) + 1):
            arrives = offset + k * PERIOD_S
            if arrives >= span_s:
                break
            at = start + dt.timedelta(seconds=arrives)
            message: Message = (
                health(rng, node, at, node in sick) if kind == "health"
                else telemetry_like(rng, size)
            )  # fmt: skip
            _, data = seal_new(
                message, signer.private_key, node, CENTRE, seq=k + 1, stream=stream, created=at,
                certificate_pem=signer.certificate_pem,
            )  # fmt: skip
            reports.append(Report(arrives, Incoming("broker", topic, data)))
    reports.sort(key=lambda r: r.arrives_s)
    return reports


def make_inbox(url: str, fleet: Fleet) -> tuple[Engine, Inbox]:
    engine = open_centre_database(url)
    box = Outbox(engine, Signer.load(fleet.nodes[CENTRE], CENTRE), [Route("*", "broker")])
    key_for = key_lookup(TrustStore.load(fleet.trust_store))
    inbox = Inbox(engine, CENTRE, key_for, centre_appliers(box, None, FleetReports()),
                  acknowledge=centre_acknowledger(box))  # fmt: skip
    return engine, inbox


def apply_all(inbox: Inbox, reports: Sequence[Report]) -> dict[str, Any]:
    """The backlog, in batches as the link hands them over; CPU and wall time."""
    cpu, wall = time.process_time(), time.perf_counter()
    applied = 0
    for first in range(0, len(reports), RECEIVE_BATCH):
        batch = [r.incoming for r in reports[first : first + RECEIVE_BATCH]]
        results = inbox.apply(inbox.check(batch))
        applied += sum(r.outcome is Outcome.APPLIED for r in results)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    if applied != len(reports):
        raise RuntimeError(f"{applied} of {len(reports)} reports applied: {inbox.counters}")
    return {
        "reports": len(reports), "seconds": round(wall, 2), "cpu_s": round(cpu, 2),
        "cpu_ms_per_report": round(1000 * cpu / len(reports), 3),
        "reports_per_s": round(len(reports) / wall, 1),
    }  # fmt: skip


def live(inbox: Inbox, reports: Sequence[Report], span_s: float) -> dict[str, Any]:
    """Reports handed over at their real arrival times (a thread plays the broker), applied by
    this thread in whatever batches have queued: how far the newest report applied is behind
    its arrival."""
    arrived: queue.Queue[tuple[float, Incoming] | None] = queue.Queue()
    start = time.perf_counter()
    base = reports[0].arrives_s

    def broker() -> None:
        for report in reports:
            due = start + report.arrives_s - base
            pause = due - time.perf_counter()
            if pause > 0:
                time.sleep(pause)
            arrived.put((due, report.incoming))
        arrived.put(None)

    lags: list[float] = []
    sizes: list[int] = []
    cpu = time.process_time()
    thread = threading.Thread(target=broker, name="bench-broker", daemon=True)
    thread.start()
    done = False
    while not done:
        first = arrived.get()
        if first is None:
            break
        batch = [first]
        while len(batch) < RECEIVE_BATCH:
            try:
                item = arrived.get_nowait()
            except queue.Empty:
                break
            if item is None:
                done = True
                break
            batch.append(item)
        inbox.apply(inbox.check([incoming for _, incoming in batch]))
        lags.append(time.perf_counter() - max(due for due, _ in batch))
        sizes.append(len(batch))
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - start
    thread.join()
    ordered = sorted(lags)
    return {
        "reports": len(reports), "seconds": round(wall, 1), "batches": len(lags),
        "mean_batch": round(statistics.fmean(sizes), 1),
        "newest_report_lag_ms": {
            "p50": round(1000 * ordered[len(ordered) // 2], 1),
            "p99": round(1000 * ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 1),
            "max": round(1000 * ordered[-1], 1),
        },
        "cpu_share_of_core": round(cpu / wall, 3),
    }  # fmt: skip


def counts(engine: Engine, boxes: int) -> dict[str, Any]:
    tables = {"fleet_health": fleet_health, "fleet_health_history": fleet_health_history,
              "fleet_alerts": fleet_alerts, "inbox_applied": inbox_applied, "outbox": outbox,
              "peer_events": peer_events}  # fmt: skip
    with engine.connect() as conn:
        rows: dict[str, Any] = {
            name: int(conn.execute(select(func.count()).select_from(t)).scalar_one())
            for name, t in tables.items()
        }
        open_alerts = conn.execute(
            select(func.count()).select_from(fleet_alerts).where(fleet_alerts.c.cleared_at.is_(None))
        ).scalar_one()  # fmt: skip
    rows["open_alerts"] = int(open_alerts)
    rows["history_rows_per_box"] = round(rows["fleet_health_history"] / boxes, 1)
    return rows


@contextmanager
def database_urls(root: Path, postgresql: bool) -> Iterator[Iterator[str]]:
    """Fresh databases, one per use."""
    with ExitStack() as stack:
        if postgresql:
            server = stack.enter_context(postgres_server())
            yield iter(server.create_database, None)
        else:
            yield (f"sqlite:///{root / f'centre-{n}.sqlite3'}" for n in range(1000))


def run(boxes: int, minutes: float, live_s: float, cpu: int, postgresql: bool) -> dict[str, Any]:
    os.sched_setaffinity(0, {cpu})
    # The centre's log lines (an alert raised or cleared, each) are written, as they would be.
    logging.basicConfig(stream=open(os.devnull, "w"), level=logging.INFO)  # noqa: SIM115
    nodes = box_ids(boxes)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        made = time.perf_counter()
        fleet = make_fleet(root / "fleet", [CENTRE, *nodes])
        pki_s = time.perf_counter() - made
        # The span ends now: the backlog is the last `minutes`, the live part follows on.
        span_s = minutes * 60 + live_s
        start = utcnow() - dt.timedelta(seconds=minutes * 60)
        signing = time.perf_counter()
        reports = signed_span(fleet, nodes, span_s / 60, start, "health", SEED)
        signing_s = time.perf_counter() - signing
        backlog = [r for r in reports if r.arrives_s < minutes * 60]
        later = [r for r in reports if r.arrives_s >= minutes * 60]
        size = len(health(random.Random(0), nodes[0], start, False).model_dump_json())
        baseline_reports = signed_span(fleet, nodes, minutes, start, "telemetry", SEED, size)
        with database_urls(root, postgresql) as urls:
            engine, inbox = make_inbox(next(urls), fleet)
            throughput = apply_all(inbox, backlog)
            live_part = live(inbox, later, live_s) if later else None
            store = counts(engine, boxes)
            engine.dispose()
            base_engine, base_inbox = make_inbox(next(urls), fleet)
            baseline = apply_all(base_inbox, baseline_reports)
            base_engine.dispose()
    need = boxes / PERIOD_S
    sizes = [len(r.incoming.data) for r in backlog[:1000]]
    base_sizes = [len(r.incoming.data) for r in baseline_reports[:1000]]
    return {
        "benchmark": "fleet_health", "boxes": boxes, "period_s": PERIOD_S,
        "minutes_of_reports": minutes, "database": "postgresql" if postgresql else "sqlite",
        "pinned_to_cpu": cpu, "seed": SEED,
        "envelope_bytes_mean": round(statistics.fmean(sizes)),
        "pki_seconds": round(pki_s, 1), "signing_seconds": round(signing_s, 1),
        "throughput": throughput,
        "needed_reports_per_s": round(need, 1),
        "headroom": round(throughput["reports_per_s"] / need, 1),
        "live": live_part,
        "store_after": store,
        "baseline_telemetry": {**baseline,
                               "envelope_bytes_mean": round(statistics.fmean(base_sizes))},
        "cpu_ratio_to_baseline": round(
            throughput["cpu_ms_per_report"] / baseline["cpu_ms_per_report"], 2
        ),
        "measures": "Inbox.check + Inbox.apply of signed health envelopes in batches of up to "
        f"{RECEIVE_BATCH} (verify, dedupe, fleet_health upsert with colour, "
        "alert rules, 300 s and 3600 s history buckets; unordered, no acks: telemetry); CPU is the "
        "whole process's (time.process_time), pinned to one core",
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--boxes", type=int, default=1000)
    parser.add_argument("--minutes", type=float, default=20.0, help="of reports, the backlog")
    parser.add_argument("--live-s", type=float, default=60.0, help="then at the real rate")
    parser.add_argument("--cpu", type=int, default=0, help="the core to pin the process to")
    parser.add_argument("--postgresql", action="store_true", help="instead of SQLite")
    args = parser.parse_args(argv)
    result = run(args.boxes, args.minutes, args.live_s, args.cpu, args.postgresql)
    print(json.dumps(result), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
