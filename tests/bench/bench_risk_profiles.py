"""The risk profile benchmark of issue 18: one truck against 10,000 active profiles, through
the index (edge.risk_profiles.index) and, as the same run's baseline, by checking every profile.
Per truck: its facts taken from the record, then the profiles evaluated.

Records come from edge.synthetic (a day at Nur Zholy: real parties, offices, HS codes, masses);
profiles are drawn over them as a country would write them: parties (ids and names, most of
them companies that are not in the day's records), HS prefixes with a route or a country,
offices, discrepancy codes with a country, and a few on mass or history alone (those are
checked for every truck).

    .venv/bin/python -m tests.bench.bench_risk_profiles [--profiles N] [--trucks N]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import statistics
import sys
import time
from typing import Any

from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest
from edge.risk_profiles.facts import TruckHistory, facts_of
from edge.risk_profiles.index import ProfileIndex
from edge.risk_profiles.model import RuleSet
from edge.synthetic import generate_day

TARGETS = {"p99_us": 1000.0}
NOW = dt.datetime(2026, 12, 8, 12, 0, tzinfo=dt.UTC)
CODES = [c.value for c in DiscrepancyCode]


def _criteria(rng: random.Random, day: list[Manifest], i: int) -> dict[str, Any]:
    r = rng.choice(day)
    kind = rng.random()
    if kind < 0.35:  # a party: a company of the day's records, or (mostly) another one
        field = rng.choice(("consignors", "consignees", "carriers"))
        party = {"consignors": r.consignor, "consignees": r.consignee, "carriers": r.carrier}[field]
        if party is not None and rng.random() < 0.02:  # a known company, for some goods
            who = {"ids": [party.id]} if party.id else {"names": [party.name]}
            return {field: who, "hs_prefixes": [rng.choice(r.goods).hs_code[:6]]}
        return {field: {"ids": [f"KZ-BIN-{rng.randrange(10**12):012d}"]}}
    if kind < 0.75:  # goods by HS prefix, with a route or a country
        # most target goods that are not in the day's records (the HS has ~5,000 subheadings)
        code = rng.choice(r.goods).hs_code if rng.random() < 0.01 else f"{rng.randrange(10**6):06d}"
        out: dict[str, Any] = {"hs_prefixes": [code[: rng.randint(4, 6)]]}
        if rng.random() < 0.5:
            out["departure_offices"] = [r.office_departure]
        else:
            out["origin_countries"] = [rng.choice(("CN", "KZ", "UZ", "KG", "TJ", "RU"))]
        if rng.random() < 0.3:
            out["mass_kg_min"] = round(rng.uniform(1000, 20000))
        return out
    if kind < 0.9:  # a route
        return {
            "departure_offices": [r.office_departure],
            "destination_offices": [f"KZ{rng.randrange(10**6):06d}"],
        }
    if kind < 0.995:  # a discrepancy in a country's trucks
        return {"discrepancies": [rng.choice(CODES)], "destination_countries": [rng.choice(("KZ", "UZ", "KG", "RU"))]}  # fmt: skip
    if rng.random() < 0.5:  # range and history only: checked for every truck
        return {"mass_kg_min": round(rng.uniform(20000, 40000))}
    return {"history": {"min_arrivals": rng.randint(8, 20), "days": 30}}


def make_rules(rng: random.Random, day: list[Manifest], count: int) -> RuleSet:
    profiles = [
        {
            "name": f"P{i:05d}", "version": 1, "valid_from": "2026-12-01T00:00:00Z",
            "lane": rng.choice(("yellow", "red")), "reason": "BENCH",
            "criteria": _criteria(rng, day, i),
        }
        for i in range(count)
    ]  # fmt: skip
    return RuleSet.model_validate(
        {"country": "KZ", "version": 1, "issued_at": "2026-12-01T00:00:00Z",
         "issued_by": "bench", "random": {"yellow": 0.05, "red": 0.01}, "profiles": profiles}
    )  # fmt: skip


def percentiles_us(samples_ns: list[int]) -> dict[str, float]:
    q = statistics.quantiles(samples_ns, n=100, method="inclusive")
    return {
        "median_us": round(statistics.median(samples_ns) / 1e3, 1),
        "p95_us": round(q[94] / 1e3, 1),
        "p99_us": round(q[98] / 1e3, 1),
    }


def run(profiles: int, trucks: int, seed: int = 18) -> dict[str, Any]:
    rng = random.Random(seed)
    day = generate_day(rng, NOW.date(), trucks)
    rules = make_rules(rng, day, profiles)
    start = time.perf_counter()
    index = ProfileIndex(rules)
    build_s = time.perf_counter() - start
    cases = []
    for r in day:
        codes = [DiscrepancyCode.SEAL_MISSING] if rng.random() < 0.1 else []
        times = tuple(NOW - dt.timedelta(days=rng.uniform(1, 60)) for _ in range(rng.randint(0, 8)))
        cases.append((r, codes, TruckHistory(tuple(sorted(times)))))

    def timed(evaluate: Any) -> tuple[list[int], int]:
        samples, selected = [], 0
        for r, codes, history in cases:
            begin = time.perf_counter_ns()
            found = evaluate(facts_of(r, codes, history), NOW)
            samples.append(time.perf_counter_ns() - begin)
            selected += bool(found)
        return samples, selected

    timed(index.evaluate)  # warm up
    indexed, selected = timed(index.evaluate)
    naive, selected_naive = timed(index.evaluate_all)
    if selected != selected_naive:
        raise SystemExit("the index and the plain loop disagree")
    result: dict[str, Any] = {
        "benchmark": "risk_profiles",
        "profiles": profiles,
        "trucks": trucks,
        "index_build_s": round(build_s, 3),
        "index_buckets": len(index.buckets),
        "unanchored_profiles": len(index.unanchored),
        "trucks_selected_share": round(selected / trucks, 4),
        "indexed": percentiles_us(indexed),
        "baseline_every_profile": percentiles_us(naive),
        "targets": TARGETS,
    }
    result["speedup_p99"] = round(
        result["baseline_every_profile"]["p99_us"] / max(result["indexed"]["p99_us"], 1e-3), 1
    )
    result["meets_targets"] = {"p99": result["indexed"]["p99_us"] <= TARGETS["p99_us"]}
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--profiles", type=int, default=10_000)
    parser.add_argument("--trucks", type=int, default=2000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.profiles, args.trucks)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
