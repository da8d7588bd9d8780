"""The matching benchmark of issue 2: import a million records, then time exact and fuzzy
matches against the baseline of a plain indexed SQLite lookup of an exact key, in one run.

    .venv/bin/python -m tests.bench.bench_matching [--records N] [--queries N]
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import sqlite3
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.manifest_cache import ManifestCache
from edge.manifest_import import import_files
from edge.matching import Matcher, Observation, PlateRead
from edge.plates import KEY_FOLDS, canonical_key
from edge.store import open_database
from tests.bench.manifest_corpus import write_corpus

TARGETS = {"import_records_per_s": 15000, "fuzzy_p99_ms": 2.0, "peak_memory_mb": 1536}
_SWAP = {g[0]: g[1] for g in KEY_FOLDS} | {g[1]: g[0] for g in KEY_FOLDS}


def fuzzy(rng: random.Random, plate: str) -> str:
    """One OCR confusion where the plate allows one, and one character dropped."""
    chars = [c for c in plate if c.isalnum()]
    swappable = [i for i, c in enumerate(chars) if c in _SWAP]
    if swappable:
        i = rng.choice(swappable)
        chars[i] = _SWAP[chars[i]]
    del chars[rng.randrange(len(chars))]
    return "".join(chars)


def percentiles_ms(samples_ns: list[int]) -> dict[str, float]:
    q = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {"p50_ms": round(q[49] / 1e6, 4), "p99_ms": round(q[98] / 1e6, 4)}


def timed(queries: list[Any], run: Callable[[Any], object]) -> list[int]:
    samples = []
    for query in queries:
        start = time.perf_counter_ns()
        run(query)
        samples.append(time.perf_counter_ns() - start)
    return samples


def peak_memory_mb() -> float:
    own = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    workers = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return round(max(own, workers) / 1024, 1)  # ru_maxrss is in KiB on Linux


def run(records: int, queries: int, seed: int = 11) -> dict[str, Any]:
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus.jsonl"
        plates = write_corpus(corpus, records, seed)
        cache = ManifestCache(open_database(Path(tmp) / "data"))

        start = time.perf_counter()
        summary = import_files(cache, [corpus])
        import_s = time.perf_counter() - start
        if summary.imported != records or summary.rejects:
            raise SystemExit(f"the corpus did not import cleanly: {summary}")

        start = time.perf_counter()
        index = cache.plate_index()
        index_s = time.perf_counter() - start

        matcher = Matcher(cache)
        sample = rng.sample(range(records), queries)
        exact = [Observation((PlateRead(plates[i], 0.9),)) for i in sample]
        noisy = [Observation((PlateRead(fuzzy(rng, plates[i]), 0.9),)) for i in sample]
        found = sum(
            1
            for i, obs in zip(sample, noisy, strict=True)
            if any(c.ref == f"26KZ{i:014d}" for c in matcher.match(obs).candidates)
        )

        # The baseline: what a plain exact lookup costs, an indexed table of canonical keys.
        db = sqlite3.connect(Path(tmp) / "baseline.sqlite3")
        db.execute("CREATE TABLE plates (key TEXT NOT NULL, manifest_id INTEGER NOT NULL)")
        db.executemany(
            "INSERT INTO plates VALUES (?, ?)",
            ((canonical_key(p), i) for i, p in enumerate(plates)),
        )
        db.execute("CREATE INDEX ix_plates_key ON plates (key)")
        db.commit()
        keys = [canonical_key(plates[i]) for i in sample]
        lookup = "SELECT manifest_id FROM plates WHERE key = ?"
        baseline = timed(keys, lambda key: db.execute(lookup, (key,)).fetchall())
        exact_ns = timed(exact, matcher.match)
        fuzzy_ns = timed(noisy, matcher.match)
        db.close()

    result = {
        "benchmark": "matching",
        "records": records,
        "queries": queries,
        "import_s": round(import_s, 2),
        "import_records_per_s": round(records / import_s),
        "index_build_s": round(index_s, 2),
        "index_keys": len(index.keys),
        "peak_memory_mb": peak_memory_mb(),
        "exact": percentiles_ms(exact_ns),
        "fuzzy": percentiles_ms(fuzzy_ns),
        "fuzzy_true_record_found": round(found / queries, 4),
        "baseline_sqlite_exact_key": percentiles_ms(baseline),
        "targets": TARGETS,
    }
    result["fuzzy_p99_vs_baseline_p99"] = round(
        result["fuzzy"]["p99_ms"] / max(result["baseline_sqlite_exact_key"]["p99_ms"], 1e-6), 1
    )
    result["meets_targets"] = {
        "import": result["import_records_per_s"] >= TARGETS["import_records_per_s"],
        "fuzzy_p99": result["fuzzy"]["p99_ms"] <= TARGETS["fuzzy_p99_ms"],
        "memory": result["peak_memory_mb"] < TARGETS["peak_memory_mb"],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--records", type=int, default=1_000_000)
    parser.add_argument("--queries", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.records, args.queries)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
