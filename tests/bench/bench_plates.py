"""The plate recognition benchmark of issues 6 and 13: exact Top-1 and Top-5 and milliseconds
per frame (wall and CPU, one core), on a generated set per country and, when they are there, on
the labelled real photographs of `../shared/data/alpr-dev/us` and of the real dev folders of
`../shared/data/plates-real-dev` (KZ, MN, RU and Chinese frames); in the same run, the baseline
of plain RapidOCR on the whole frame. On each real set, match@1 too: its plates' records among
--cache-size decoy records (drivers/plates/match_bench.py). Targets: see TARGETS. The plates of
foreign trucks that cross the corridor (TR, GE, LT, PL, DE, BY, UA) are measured too, with no
target.

    .venv/bin/python -m tests.bench.bench_plates [--per-country N] [--real DIR] [--dev DIR]
        [--cache-size N] [--no-baseline] [--seed S]

The generated sets are drawn from the reporting seed (drivers/plates/seeds.py), which no
tuning or training ever used; a tuning seed is refused (tune on those with
`carec-edge sim plates --seed S` and `carec-edge plates bench`, never report them).

Each generated set's baseline reads its first --baseline-frames frames only: it takes half a
second a frame, and 30 are enough to show how far plain OCR is from the pipeline. On the real
photographs it reads them all.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

from drivers.plates.seeds import REPORTING_SEED, check_reporting_seed

COUNTRIES = ("KZ", "KG", "UZ", "TJ", "AZ", "RU", "MN", "CN")
VISITORS = ("TR", "GE", "LT", "PL", "DE", "BY", "UA")  # foreign trucks' plates: no target
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL = SHARED_DATA / "alpr-dev" / "us"
DEV = SHARED_DATA / "plates-real-dev"  # issue 13's real frames of corridor plates
DEV_SETS = {"KZ": "kz-frames", "MN": "mn-frames", "RU": "ru-frames", "CN": "cn-ccpd-frames"}
# the real sets' targets are issue 13's: Top-1 0.90 the floor (0.95 the aim), match@1 among
# 10,000 records 0.98, CPU ms per frame on one core median 120 and p95 250
TARGETS = {
    "top1_generated": 0.95,
    "top1_real": 0.90,
    "ms_median": 150.0,
    "match_at_1": 0.98,
    "real_cpu_ms_median": 120.0,
    "real_cpu_ms_p95": 250.0,
}
SEED = REPORTING_SEED  # never used to tune or train (drivers/plates/seeds.py)


def worker_latency(frames: int = 20) -> dict[str, float]:
    """Milliseconds from a frame handed to the recognition worker to its candidates back in
    the service's process (the model's time plus the hand-over), and what that means for the
    first read of a truck that stops: the trigger hands a frame within 1/sink_fps seconds."""
    import queue
    import random
    import statistics
    import time

    from drivers.camera.config import TriggerConfig
    from drivers.plates.worker import PlateWorker
    from drivers.sim.plates import render_scene
    from edge.plate_formats import FORMATS

    done: queue.Queue[float] = queue.Queue()
    worker = PlateWorker(lambda tag, result, error: done.put(time.perf_counter() - tag))
    worker.start()
    try:
        if not worker.ready.wait(120):
            raise RuntimeError("the plate worker did not start")
        rng = random.Random(SEED)
        times = []
        for _ in range(frames):
            fmt = rng.choice(FORMATS)
            frame, _ = render_scene(fmt.random_plate(rng), fmt, rng)
            worker.submit(frame, time.perf_counter())
            times.append(done.get(timeout=60) * 1000)
    finally:
        worker.stop()
    times.sort()
    median = statistics.median(times)
    sink_interval_ms = 1000 / TriggerConfig().sink_fps
    return {
        "frame_to_candidates_ms_median": round(median, 1),
        "frame_to_candidates_ms_p95": round(times[int(0.95 * (len(times) - 1))], 1),
        "stop_to_first_read_ms_worst": round(sink_interval_ms + times[-1], 1),
    }


def meets_targets(sets: dict[str, dict[str, Any]]) -> dict[str, bool | None]:
    """Each target met by every set it applies to (None: no such set was measured)."""
    generated = [v["pipeline"] for k, v in sets.items() if k.startswith("generated")]
    rendered = [v["pipeline"] for k, v in sets.items() if k.startswith(("generated", "visitor"))]
    real = [v for k, v in sets.items() if k.startswith("real")]

    def every(values: list[bool]) -> bool | None:
        return all(values) if values else None

    return {
        "top1_generated": every([p["top1"] >= TARGETS["top1_generated"] for p in generated]),
        # the wall-time target is per 1280x720 frame: the rendered sets
        "ms_median": every([p["ms_median"] <= TARGETS["ms_median"] for p in rendered]),
        "top1_real": every([v["pipeline"]["top1"] >= TARGETS["top1_real"] for v in real]),
        "match_at_1": every([v["match"]["match_at_1"] >= TARGETS["match_at_1"] for v in real]),
        "real_cpu_ms": every(
            [
                v["pipeline"]["cpu_ms_median"] <= TARGETS["real_cpu_ms_median"]
                and v["pipeline"]["cpu_ms_p95"] <= TARGETS["real_cpu_ms_p95"]
                for v in real
            ]
        ),
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_plates")
    # 100 frames a set: Top-1 in steps of 1%, to judge a 95% target on
    parser.add_argument("--per-country", type=int, default=100)
    parser.add_argument(
        "--baseline-frames", type=int, default=30, help="of each set, for the slow baseline"
    )
    parser.add_argument("--real", type=Path, default=REAL, help="the US photographs")
    parser.add_argument("--dev", type=Path, default=DEV, help="plates-real-dev's folder")
    parser.add_argument(
        "--cache-size", type=int, default=10_000, help="decoy records of the real sets' match@1"
    )
    parser.add_argument("--no-baseline", action="store_true")
    parser.add_argument("--seed", type=int, default=SEED, help="of the generated sets")
    args = parser.parse_args(argv)
    try:
        check_reporting_seed(args.seed)
    except ValueError as error:
        print(f"bench_plates: {error}", file=sys.stderr)
        return 2
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2

    from drivers.plates.bench import bench_dataset
    from drivers.sim.plates import write_dataset

    cv2.setNumThreads(1)  # one core, as the worker has on the box
    report: dict[str, Any] = {
        "benchmark": "plates",
        "targets": TARGETS,
        "generated_seed": args.seed,
        "sets": {},
    }
    with tempfile.TemporaryDirectory(prefix="carec-plates-") as scratch:
        for country in COUNTRIES + VISITORS:
            directory = Path(scratch) / country.lower()
            write_dataset(directory, country, args.per_country, args.seed)
            kind = "generated" if country in COUNTRIES else "visitor"
            report["sets"][f"{kind}-{country}"] = bench_dataset(
                directory, baseline=not args.no_baseline, baseline_limit=args.baseline_frames
            )
    report["worker"] = worker_latency()
    real_sets = {"real-us": args.real} | {
        f"real-{country}": args.dev / folder for country, folder in DEV_SETS.items()
    }
    for name, directory in real_sets.items():
        if directory.is_dir():  # absent from a fresh clone: ../shared is not the project's
            # the reporting part alone: the tuning part trained and tuned the pipeline
            report["sets"][name] = bench_dataset(
                directory,
                baseline=not args.no_baseline,
                cache_size=args.cache_size,
                part="report",
            )
    report["meets_targets"] = meets_targets(report["sets"])
    print(json.dumps(report, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
