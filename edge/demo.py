"""`python -m edge.demo`: a synthetic day at one post's matcher, without the services (`make
demo` runs the whole crossing instead: `carec-edge demo`, edge/cli/demo_cmd.py).

A day of pre-arrival records is written as a JSON Lines file of the contract, imported with the
real command (`carec-edge manifests import`, run as its own process as an operator would), and
the day's trucks are replayed through the matcher with camera-like noise on their plates. Each
match prints on one line; a summary says how many were matched, ambiguous or unmatched, how many
were right, which discrepancies were named and how fast the matcher answered.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from edge.config import MatchingConfig
from edge.discrepancies import DiscrepancyCode
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Candidate, Matcher, MatchResult
from edge.store import open_database
from edge.synthetic import Arrival, Scenario, arrivals, generate_day
from edge.timeutil import utcnow


@dataclass(frozen=True)
class Outcome:
    arrival: Arrival
    result: MatchResult
    seconds: float

    @property
    def verdict(self) -> str:
        """matched (best is clearly ahead), ambiguous, or unmatched."""
        if not self.result.candidates:
            return "unmatched"
        return "ambiguous" if self.result.ambiguous else "matched"

    @property
    def right(self) -> bool:
        best = self.result.best
        if self.arrival.ref is None:
            return best is None
        return self.verdict == "matched" and best is not None and best.ref == self.arrival.ref

    def truth(self) -> Candidate | None:
        return next((c for c in self.result.candidates if c.ref == self.arrival.ref), None)

    def codes(self) -> set[DiscrepancyCode]:
        """The codes named for the truck: on its true record's candidate, or on the result."""
        truth = self.truth()
        named = {d.code for d in self.result.discrepancies}
        return named | ({d.code for d in truth.discrepancies} if truth else set())

    def expected_named(self) -> bool:
        return self.arrival.expected <= self.codes()


def write_jsonl(records: Sequence[Manifest], path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(record.to_json() + "\n")


def import_with_cli(data_dir: Path, path: Path) -> int:
    """`carec-edge --data-dir DIR manifests import FILE`; its summary line goes to stdout."""
    command = [sys.executable, "-m", "edge.cli", "--data-dir", str(data_dir)]
    return subprocess.run([*command, "manifests", "import", str(path)], check=False).returncode


def replay(matcher: Matcher, trucks: Sequence[Arrival]) -> list[Outcome]:
    outcomes = []
    for arrival in trucks:
        start = time.perf_counter()
        result = matcher.match(arrival.observation)
        outcomes.append(Outcome(arrival, result, time.perf_counter() - start))
    return outcomes


def describe(outcome: Outcome) -> str:
    arrival, best = outcome.arrival, outcome.result.best
    obs = arrival.observation
    at = f"{obs.at:%H:%M}" if obs.at else "--:--"
    tractor = [r for r in obs.plates if r.position != "trailer"] or list(obs.plates)
    read = max(tractor, key=lambda r: r.confidence).text if tractor else "(no read)"
    if best is not None and best.read is not None:
        read = best.read
    if best is None:
        match = f"{'(none)':<18} {'':>4}  {'':<12}"
        codes = [d.code.value for d in outcome.result.discrepancies]
    else:
        plate = best.plate or "(seal/document)"
        match = f"{best.ref:<18} {best.score:.2f}  {plate:<12}"
        codes = [d.code.value for d in best.discrepancies]
    mark = "ok" if outcome.right else ("??" if outcome.verdict == "ambiguous" else "WRONG")
    story = "" if arrival.scenario is Scenario.CLEAN else f"  [{arrival.scenario.value}]"
    return f"{at} {read:<12} -> {match} {mark:<5} {' '.join(codes) or '-'}{story}"


def percentile(values: Sequence[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def summary(outcomes: Sequence[Outcome]) -> list[str]:
    verdicts = Counter(o.verdict for o in outcomes)
    right = Counter(o.verdict for o in outcomes if o.right)
    with_record = [o for o in outcomes if o.arrival.ref is not None]
    among = sum(1 for o in outcomes if o.verdict == "ambiguous" and o.truth() is not None)
    codes = Counter(code for o in outcomes for code in o.codes())
    faults = [o for o in outcomes if o.arrival.expected]
    named = sum(1 for o in faults if o.expected_named())
    millis = [o.seconds * 1000 for o in outcomes]
    total_right = sum(right.values())
    return [
        f"arrivals   {len(outcomes)} ({len(with_record)} with a pre-arrival record, "
        f"{len(outcomes) - len(with_record)} without)",
        f"matched    {verdicts['matched']:>4}  right {right['matched']}",
        f"ambiguous  {verdicts['ambiguous']:>4}  true record among the candidates {among}",
        f"unmatched  {verdicts['unmatched']:>4}  right (truck had no record) {right['unmatched']}",
        f"right      {total_right}/{len(outcomes)} ({100 * total_right / len(outcomes):.1f}%)",
        f"faults     {named}/{len(faults)} trucks had the expected discrepancy named",
        "codes      " + ", ".join(f"{code.value} {codes[code]}" for code in DiscrepancyCode),
        f"latency    p50 {percentile(millis, 0.5):.2f} ms, p99 {percentile(millis, 0.99):.2f} ms",
    ]


def run(data_dir: Path, trucks: int, seed: int, day: dt.date, show: int | None) -> int:
    rng = random.Random(seed)
    records = generate_day(rng, day, trucks)
    data_dir.mkdir(parents=True, exist_ok=True)
    path = data_dir / f"prearrival-{day.isoformat()}.jsonl"
    write_jsonl(records, path)
    print(f"generated {len(records)} pre-arrival records for {day} (seed {seed}) in {path}")
    status = import_with_cli(data_dir, path)
    if status != 0:
        print(f"demo: the import failed with status {status}", file=sys.stderr)
        return 1
    settings = MatchingConfig()
    trucks_in = arrivals(rng, records, window=settings)
    engine = open_database(data_dir)
    try:
        cache = ManifestCache(engine)
        start = time.perf_counter()
        cache.plate_index()
        built = (time.perf_counter() - start) * 1000
        print(f"plate index of {cache.count()} records built in {built:.0f} ms")
        outcomes = replay(Matcher(cache, settings), trucks_in)
    finally:
        engine.dispose()
    print(f"replaying {len(trucks_in)} trucks (times UTC): read -> ref, score, plate on record")
    for outcome in outcomes if show is None else outcomes[:show]:
        print(describe(outcome))
    if show is not None and len(outcomes) > show:
        print(f"... {len(outcomes) - show} more (--verbose prints every truck)")
    print()
    print("\n".join(summary(outcomes)))
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m edge.demo", description=__doc__)
    parser.add_argument("--trucks", type=int, default=400, help="records in the day (400)")
    parser.add_argument("--seed", type=int, default=2026, help="random seed (2026)")
    parser.add_argument("--date", type=dt.date.fromisoformat, help="the day (default: today)")
    parser.add_argument("--data-dir", type=Path, help="keep the store here (default: temp dir)")
    parser.add_argument("--verbose", action="store_true", help="print every truck, not 30")
    args = parser.parse_args(argv)
    if args.trucks < 1:
        parser.error("--trucks must be at least 1")
    day = args.date or utcnow().date()
    show = None if args.verbose else 30
    if args.data_dir:
        return run(args.data_dir, args.trucks, args.seed, day, show)
    with tempfile.TemporaryDirectory(prefix="carec-edge-demo-") as temp:
        return run(Path(temp), args.trucks, args.seed, day, show)


if __name__ == "__main__":
    sys.exit(main())
