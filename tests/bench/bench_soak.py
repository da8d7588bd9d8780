"""The soak benchmark of issue 12: a simulated month of a busy post, with the box's retention on,
against the same month with every purge off (the baseline), each run in its own process.

300 trucks a day reach the service's lanes with every reading (the camera's trigger, tractor
and trailer plates with their crops, the driver's passport, a seal, the transit document's
code), each truck's record arriving the same day; nine in ten are decided, one in ten times
out. Time is the box's injectable clock (`edge.timeutil.set_clock`), moved truck by truck, not
waited for; at each day's end the service's retention job runs once (its body, as every
`service.purge_interval_minutes` it would). The store lives on /dev/shm where there is one,
so that the month fits in minutes; the sizes are those of a disk.

Printed: the database size (file and WAL), the crop store's size and the process's RSS at
days 1, 10 and 30 of each run, and the evidence's share of the database (decisions and the
arrivals they rest on are kept five years, so that part grows by law, at the rate shown).

    .venv/bin/python -m tests.bench.bench_soak [--days N] [--trucks-per-day N]
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import logging
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from sqlalchemy import Engine, insert, text

from edge.arrivals import Lanes
from edge.config import Config, KioskConfig, RetentionConfig, StoreConfig
from edge.decisions import DecisionKind, Decisions, DecisionStore, ReasonCode, RecordKey
from edge.manifest import parse_manifest
from edge.officers import Officer, Role
from edge.readings import (
    BarcodeRead,
    DocumentRead,
    PlateCandidate,
    PlateReading,
    PresenceChange,
    Reading,
    SealRead,
)
from edge.service import EdgeService
from edge.service.upkeep import purge_retention
from edge.store.database import DATABASE_NAME
from edge.store.schema import officers
from edge.timeutil import format_utc, set_clock
from tests.fixtures.records import record

SAMPLE_DAYS = (1, 10, 30)
START = dt.datetime(2027, 3, 1, 6, 0, tzinfo=dt.UTC)
DAY = dt.timedelta(days=1)
_LETTERS = "ABCEHKMOPTXYZ"
UNDECIDED_EVERY = 10  # one truck in ten leaves without a decision and times out
# The box's retention in the soak: what the config allows at its shortest sensible setting for
# what is not evidence, so that the month shows where each part levels off.
SOAK_RETENTION = RetentionConfig(crop_days=7, crop_quota_mb=64, undecided_arrival_days=7)
# The baseline: nothing purged, no quota that binds.
BASELINE_RETENTION = RetentionConfig(
    crop_days=3650, crop_quota_mb=1_000_000, undecided_arrival_days=3650
)
TARGET_RSS_GROWTH_MB = 20.0  # from day 10 to the last day, with purges on


def rss_mb() -> float:
    with open("/proc/self/statm") as statm:
        pages = int(statm.read().split()[1])
    return round(pages * os.sysconf("SC_PAGE_SIZE") / 1024 / 1024, 1)


def database_mb(data: Path) -> float:
    files = [data / DATABASE_NAME, data / f"{DATABASE_NAME}-wal"]
    return round(sum(f.stat().st_size for f in files if f.exists()) / 1024 / 1024, 2)


def crop_jpeg(index: int) -> bytes:
    """A plate crop as the recogniser keeps one: 64 pixels tall, a JPEG of a few kB."""
    image = np.full((64, 240, 3), 235, np.uint8)
    cv2.putText(image, f"{index:03d} KZA 02", (8, 46), cv2.FONT_HERSHEY_SIMPLEX, 1.2, (20,) * 3, 3)
    noise = np.random.default_rng(index).integers(0, 24, image.shape, dtype=np.uint8)
    return bytes(cv2.imencode(".jpg", cv2.add(image, noise), [cv2.IMWRITE_JPEG_QUALITY, 80])[1])


class Truck:
    def __init__(self, day: int, number: int) -> None:
        self.index = day * 1000 + number
        rng = random.Random(self.index)  # plates as diverse as a road's: few near-misses
        letters = "".join(rng.choice(_LETTERS) for _ in range(3))
        self.plate = f"{rng.randrange(1000):03d} {letters} {rng.randrange(1, 20):02d}"
        self.trailer = f"{rng.randrange(1, 20):02d} {rng.randrange(10000):04d} {letters[:2]}"
        self.document = f"N{self.index:08d}"
        self.seal = f"KZC{self.index:07d}"
        self.tir = f"XA{self.index:08d}"
        self.ref = f"27KZ{self.index:014d}"

    def record(self, expected: dt.datetime) -> dict[str, Any]:
        return record(
            ref=self.ref,
            expected_arrival=format_utc(expected),
            transport={"plate": self.plate, "nationality": "KZ"},
            trailers=[{"plate": self.trailer, "nationality": "KZ"}],
            driver={
                "name": "IVANOV IVAN",
                "document_type": "P",
                "document_number": self.document,
                "nationality": "KAZ",
                "birth_date": "1980-04-12",
            },
            seals=[{"id": self.seal, "type": "mechanical", "party": "CU"}],
            tir_carnet=self.tir,
            cmr=f"KZ-2027-{self.index:06d}",
        )

    def readings(self, at: dt.datetime, crops: tuple[bytes, bytes]) -> list[Reading]:
        s = dt.timedelta(seconds=1)
        mrz = {
            "document_type": "P",
            "document_number": self.document,
            "surname": "IVANOV",
            "given_names": "IVAN",
            "nationality": "KAZ",
            "birth_date": "800412",
            "sex": "M",
            "expiry_date": "300101",
        }
        return [
            PresenceChange("cam-front", at, True),
            PlateReading(
                "cam-front", at + s, (PlateCandidate(self.plate, 0.93, "tractor", "KZ"),),
                crops[0], frames=4,
            ),
            PlateReading(
                "cam-rear", at + 4 * s, (PlateCandidate(self.trailer, 0.88, "trailer", "KZ"),),
                crops[1], frames=3,
            ),
            DocumentRead("mrz-1", at + 40 * s, mrz, True),
            SealRead("seal-1", at + 60 * s, self.seal, electronic=False),
            BarcodeRead(
                "scanner-1", at + 80 * s, self.tir, "code128", "]C0", None,
                {"kind": "transit", "tir_carnet": self.tir, "valid": True},
            ),
            PresenceChange("cam-front", at + 120 * s, False),
        ]  # fmt: skip


def add_officer(engine: Engine) -> Officer:
    with engine.begin() as conn:
        conn.execute(
            insert(officers).values(
                id="soak", name="Soak Officer", badge=None, role="officer", language="en",
                pin_hash="-", active=1, created_at=START,
            )
        )  # fmt: skip
    return Officer("soak", "Soak Officer", None, Role.OFFICER, "en")


def evidence_mb(engine: Engine) -> float:
    """The decided arrivals' share of the database: rows, plus SQLite's per-row overhead."""
    query = text(
        "SELECT COALESCE(SUM(length(reading)), 0) FROM arrival_readings WHERE arrival_id IN"
        " (SELECT arrival_id FROM decisions)"
    )
    with engine.connect() as conn:
        readings = int(conn.execute(query).scalar_one())
        arrivals = int(
            conn.execute(
                text(
                    "SELECT COALESCE(SUM(length(match) + 120), 0) FROM arrivals"
                    " WHERE id IN (SELECT arrival_id FROM decisions)"
                )
            ).scalar_one()
        )
        decisions = int(conn.execute(text("SELECT COUNT(*) * 150 FROM decisions")).scalar_one())
    return round((readings + arrivals + decisions) / 1024 / 1024, 2)


class ServiceReady(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.ready = asyncio.Event()

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == "service.ready":
            self.ready.set()


async def simulate(
    service: EdgeService, days: int, per_day: int, purges: bool, clock: list[dt.datetime]
) -> list[dict[str, Any]]:
    engine = service.engine
    lanes: Lanes = service.lanes
    decisions = Decisions(DecisionStore(engine), lanes)
    officer = await service.in_store(add_officer, engine)
    crops = (crop_jpeg(1), crop_jpeg(2))
    gap = DAY / per_day
    samples: list[dict[str, Any]] = []
    for day in range(days):
        morning = START + day * DAY
        clock[0] = morning
        trucks = [Truck(day, n) for n in range(per_day)]
        records = [parse_manifest(t.record(morning + n * gap)) for n, t in enumerate(trucks)]
        await service.in_store(service.cache.upsert, records)
        for n, truck in enumerate(trucks):
            at = morning + n * gap
            arrival_id = None
            for reading in truck.readings(at, crops):
                clock[0] = reading.at
                arrival_id = await service.in_store(lanes.on_reading, "1", reading) or arrival_id
            assert arrival_id is not None
            clock[0] = at + dt.timedelta(minutes=3)
            if n % UNDECIDED_EVERY == UNDECIDED_EVERY - 1:
                await service.in_store(lanes.close, arrival_id, "timeout", clock[0])
            else:
                await service.in_store(
                    decisions.decide, officer, arrival_id, DecisionKind.RELEASE,
                    ReasonCode.DOCUMENTS_IN_ORDER, None, RecordKey("KZ-CIS", truck.ref), None,
                )  # fmt: skip
        clock[0] = morning + DAY - dt.timedelta(seconds=1)
        if purges:  # the retention job's body, as it runs every purge interval
            await service.in_store(
                purge_retention, engine, service.crops, service.config.retention, clock[0]
            )
            await service.purge_expired()
        if day + 1 in SAMPLE_DAYS or day + 1 == days:
            samples.append(
                {
                    "day": day + 1,
                    "database_mb": database_mb(service.data_dir),
                    "evidence_mb": await service.in_store(evidence_mb, engine),
                    "crops_mb": round(await service.in_store(service.crops.size) / 1024**2, 2),
                    "rss_mb": rss_mb(),
                }
            )
    return samples


def run_one(mode: str, days: int, per_day: int) -> dict[str, Any]:
    """One month in this process: `soak` (retention on) or `baseline` (every purge off)."""
    purges = mode == "soak"
    clock = [START]
    set_clock(lambda: clock[0])
    logging.getLogger("edge").setLevel(logging.WARNING)
    shm = Path("/dev/shm")
    with tempfile.TemporaryDirectory(dir=shm if shm.is_dir() else None) as tmp:
        data = Path(tmp) / "data"
        config = Config(
            kiosk=KioskConfig(enabled=False),
            store=StoreConfig(data_dir=data, retention_days=7 if purges else 3650),
            retention=SOAK_RETENTION if purges else BASELINE_RETENTION,
        )
        service = EdgeService(config, data)
        ready = ServiceReady()
        logging.getLogger("edge.service").addHandler(ready)
        logging.getLogger("edge.service").setLevel(logging.INFO)

        async def main() -> list[dict[str, Any]]:
            running = asyncio.create_task(service.run())
            await asyncio.wait_for(ready.ready.wait(), 60)
            try:
                return await simulate(service, days, per_day, purges, clock)
            finally:
                service.stop("soak done")
                await running

        start = time.perf_counter()
        samples = asyncio.run(main())
        elapsed = time.perf_counter() - start
    set_clock(None)
    return {"mode": mode, "seconds": round(elapsed, 1), "samples": samples}


def run(days: int, per_day: int) -> dict[str, Any]:
    """Both months side by side, each in a fresh process so that its RSS is its own."""
    children = {
        mode: subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.bench.bench_soak",
                "--one",
                mode,
                "--days",
                str(days),
                "--trucks-per-day",
                str(per_day),
            ],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for mode in ("soak", "baseline")
    }
    runs = {}
    for mode, child in children.items():
        out, err = child.communicate()
        if child.returncode != 0:
            raise RuntimeError(f"the {mode} month failed:\n{err[-4000:]}")
        runs[mode] = json.loads(out.strip().splitlines()[-1])
    soak, baseline = runs["soak"]["samples"], runs["baseline"]["samples"]
    tenth = next(s for s in soak if s["day"] == min(10, days))
    last = soak[-1]
    span = max(1, last["day"] - tenth["day"])
    growth_per_day = (last["database_mb"] - tenth["database_mb"]) / span
    evidence_per_day = (last["evidence_mb"] - tenth["evidence_mb"]) / span
    return {
        "benchmark": "soak",
        "days": days,
        "trucks_per_day": per_day,
        "soak": runs["soak"],
        "baseline": runs["baseline"],
        "soak_retention": SOAK_RETENTION.model_dump(
            include={"crop_days", "crop_quota_mb", "undecided_arrival_days", "evidence_days"}
        ),
        "database_growth_mb_per_day_after_day_10": round(growth_per_day, 3),
        "evidence_growth_mb_per_day": round(evidence_per_day, 3),
        "evidence_mb_at_legal_minimum_projected": round(
            evidence_per_day * SOAK_RETENTION.evidence_days, 0
        ),
        "crop_store_growth_mb_after_day_10": round(last["crops_mb"] - tenth["crops_mb"], 2),
        "rss_growth_mb_after_day_10": round(last["rss_mb"] - tenth["rss_mb"], 1),
        "target_rss_growth_mb": TARGET_RSS_GROWTH_MB,
        "baseline_database_mb": baseline[-1]["database_mb"],
        "baseline_crops_mb": baseline[-1]["crops_mb"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--trucks-per-day", type=int, default=300)
    parser.add_argument("--one", choices=("soak", "baseline"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.one:
        print(json.dumps(run_one(args.one, args.days, args.trucks_per_day)))
        return 0
    result = run(args.days, args.trucks_per_day)
    print(json.dumps(result))
    return 0 if result["rss_growth_mb_after_day_10"] <= TARGET_RSS_GROWTH_MB else 1


if __name__ == "__main__":
    sys.exit(main())
