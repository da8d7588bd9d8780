"""The rollout driver at a fleet's scale (issue 16): one rollout of an update to 1,000 enrolled
boxes in phases `1, 10%, 50%, 100%`, on the centre's real store and outbox (each `update`
command a signed envelope, its row, its audit line).

- `idle pass`: a driver pass over the rollout while every commanded box is under way (what the
  centre's periodic job costs most of the time);
- `advancing pass, N commanded`: the pass after a phase's boxes all reported good (set in the
  table, outside the clock), which advances and commands the next phase's N boxes;
- `health batch`: 1,000 boxes' health reports, each with its update section, recorded through
  the inbox's hook (`RolloutStore.health`, in one transaction, as the inbox applies a batch);
  then the same batch again, as every later report of a box whose phase did not change; the
  signature check and the rest of a health report are bench_fleet's figures.

    .venv/bin/python -m tests.bench.bench_rollout [--boxes N] [--postgresql]

One JSON object on stdout, as every benchmark of `make bench`. Wall time of this process (the database's own CPU counts on SQLite, not on PostgreSQL).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, insert, update

from centre.config import FleetSection
from centre.fleet.desk import FleetDesk
from centre.store import open_centre_database
from centre.store.schema import fleet_boxes, fleet_rollout_boxes
from centre.updates.rollout import parse_phases
from centre.updates.rollout_store import RolloutStore
from edge.timeutil import utcnow
from provisioning.identity.fleet import make_fleet
from sync.messages import ClockReport, HealthMessage, UpdateReport
from sync.outbox import Outbox, Route, Signer
from tests.fixtures.postgres import postgres_server

CENTRE = "KZ-CIS"
TARGET = "carec-edge-1.5.0.raucb"
PHASES = "1, 10%, 50%, 100%"


@contextmanager
def database(postgresql: bool, root: Path) -> Iterator[str]:
    if not postgresql:
        yield f"sqlite:///{root / 'centre.sqlite3'}"
        return
    with postgres_server() as server:
        yield server.create_database()


def timed(action: Callable[[], object]) -> tuple[float, object]:
    start = time.perf_counter()
    result = action()
    return (time.perf_counter() - start) * 1000, result


def phase_good(engine: Engine, rollout_id: str, phase: int) -> None:
    with engine.begin() as conn:
        conn.execute(
            update(fleet_rollout_boxes)
            .where(fleet_rollout_boxes.c.rollout_id == rollout_id,
                   fleet_rollout_boxes.c.phase == phase)
            .values(state="good", updated_at=utcnow())
        )  # fmt: skip


def health(node: str, rollout_id: str) -> HealthMessage:
    return HealthMessage(
        node=node, at=utcnow(), service="ok", plate_worker="ok", disk_used_pct=40.0,
        disk_free_mb=50_000, database_mb=100.0,
        clock=ClockReport(source="chrony", synchronised=True, offset_ms=1.0),
        software_version="1.4.0",
        update=UpdateReport(phase="installing", target=TARGET, version="1.5.0",
                            rollout=rollout_id),
    )  # fmt: skip


def run(boxes: int, postgresql: bool) -> dict[str, Any]:
    with ExitStack() as stack:
        root = Path(stack.enter_context(tempfile.TemporaryDirectory()))
        fleet = make_fleet(root / "fleet", [CENTRE])
        engine = open_centre_database(stack.enter_context(database(postgresql, root)))
        outbox = Outbox(engine, Signer.load(fleet.nodes[CENTRE], CENTRE), [Route("*", "broker")])
        settings = FleetSection()
        desk = FleetDesk(engine, outbox, settings=settings)
        store = RolloutStore(engine, desk, settings)
        nodes = [f"KZ-POST{i:04d}-1" for i in range(boxes)]
        now = utcnow()
        with engine.begin() as conn:
            conn.execute(insert(fleet_boxes), [
                {"node_id": n, "serial": f"SN-{n}", "state": "enrolled", "created_at": now}
                for n in nodes
            ])  # fmt: skip
        phases = parse_phases(PHASES)
        start_ms, rollout_id = timed(lambda: store.start(TARGET, "1.5.0", nodes, phases,
                                                         operator="bench", threshold=0.05))  # fmt: skip
        assert isinstance(rollout_id, str)
        idle_canary = statistics.median(timed(store.drive)[0] for _ in range(5))
        advancing = []
        for phase in range(len(phases) - 1):
            phase_good(engine, rollout_id, phase)
            ms, steps = timed(store.drive)
            assert isinstance(steps, dict)
            commanded = len(steps[rollout_id].command)
            advancing.append({"to_phase": phase + 2, "commanded": commanded, "ms": round(ms, 1),
                              "ms_a_box": round(ms / max(commanded, 1), 3)})  # fmt: skip
        idle_full = statistics.median(timed(store.drive)[0] for _ in range(5))
        # Baseline, same run and store: the fleet desk's own command path (signed command,
        # row, audit line) for as many boxes as the biggest phase, with no rollout around it.
        biggest = max(step["commanded"] for step in advancing)
        baseline_ms, _ = timed(lambda: desk.issue_command(
            nodes[:biggest], "self_test", operator="bench", ttl=dt.timedelta(hours=1)))  # fmt: skip
        baseline_a_box = baseline_ms / max(biggest, 1)
        for step in advancing:
            step["ratio_to_baseline"] = round(step["ms_a_box"] / baseline_a_box, 2)
        reports = [health(n, rollout_id) for n in nodes]

        def record() -> None:
            with engine.begin() as conn:
                store.health(conn, reports, utcnow())

        changing_ms, _ = timed(record)
        unchanged_ms, _ = timed(record)
        engine.dispose()
    return {
        "benchmark": "rollout_driver", "store": "postgresql" if postgresql else "sqlite",
        "boxes": boxes, "phases": PHASES, "start_ms": round(start_ms, 1),
        "idle_pass_ms_canary_under_way": round(idle_canary, 1), "advancing_passes": advancing,
        "idle_pass_ms_all_in": round(idle_full, 1),
        "baseline": f"FleetDesk.issue_command to {biggest} boxes, no rollout",
        "baseline_ms_a_box": round(baseline_a_box, 3),
        "health_batch_ms_changing": round(changing_ms, 1),
        "health_batch_ms_unchanged": round(unchanged_ms, 1),
        "time": "wall, this process (the database server's CPU not counted on PostgreSQL)",
    }  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--boxes", type=int, default=1000)
    parser.add_argument("--postgresql", action="store_true", help="instead of SQLite")
    args = parser.parse_args(argv)
    print(json.dumps(run(args.boxes, args.postgresql)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
