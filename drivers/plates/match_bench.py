"""match@1: from a real photograph to the right record, the figure an officer cares about.

Each labelled plate gets a pre-arrival record of its own, among `cache_size` decoy records of
the corridor's trucks drawn by `edge.synthetic.new_record` (its country shares, its plate
formats and writings, trailers and all) from a seed no tuning used. They go into a temporary
store through the real path (a JSON-lines file read by `edge.manifest_import.import_files` into
`edge.manifest_cache.ManifestCache` on SQLite), and what the pipeline read of each frame is
handed to the real `edge.matching.Matcher` as the lane hands it: one frame's candidates voted
as the service votes them (`PlateVote`), as written, with their confidences, turned into an
observation by `edge.arrivals.observation_of`.

A frame is a hit when its own record is the matcher's first candidate and no other candidate
scores as much (a tie would leave the officer to choose: a miss). Every record is due at the
moment the truck is seen, so the arrival time favours none and only the plate reads decide;
no seal, document or transit reference is given. A plate labelled on several frames has one
record; a decoy never has a labelled plate's key (it would be that truck's record)."""

from __future__ import annotations

import datetime as dt
import random
import statistics
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.plates.recognizer import FrameResult
from drivers.plates.seeds import DECOY_SEED
from drivers.plates.voting import PlateVote
from edge.arrivals import observation_of
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache
from edge.manifest_import import import_files
from edge.matching import Matcher
from edge.plate_formats import match_formats
from edge.plates import canonical_key
from edge.readings import PlateCandidate, PlateReading
from edge.store import open_database
from edge.synthetic import new_record
from edge.timeutil import utcnow

DEFAULT_CACHE_SIZE = 10_000


@dataclass(frozen=True)
class Truck:
    plate: str  # the label, as written on the plate
    reads: tuple[PlateCandidate, ...]  # what was read of its frame, best first


def candidates_of(result: FrameResult) -> tuple[PlateCandidate, ...]:
    """A frame's candidates as the lane gets them (drivers/plates/camera_plates.py): voted over
    the vehicle's frames (one here), as written, with the readers' mean probability."""
    vote = PlateVote()
    vote.add(result)
    return tuple(
        PlateCandidate(
            v.candidate.guess.written, round(v.confidence, 4), None, v.candidate.guess.country
        )
        for v in vote.ranked()
    )


@dataclass(frozen=True)
class MatchOutcome:
    plate: str
    hit: bool
    first: str | None  # the first candidate's tractor plate, None when there was none


def match_at_1(
    trucks: Sequence[Truck],
    cache_size: int = DEFAULT_CACHE_SIZE,
    seed: int = DECOY_SEED,
) -> tuple[dict[str, Any], list[MatchOutcome]]:
    """The share of trucks whose own record the matcher ranks first among `cache_size` decoys,
    with the figures around it, and each truck's outcome."""
    if not trucks:
        raise ValueError("match@1 needs at least one labelled plate")
    if cache_size < 0:
        raise ValueError(f"cache size {cache_size} is negative")
    due = utcnow().replace(second=0, microsecond=0)
    own, records = _records(trucks, cache_size, seed, due)
    with tempfile.TemporaryDirectory(prefix="carec-match-at-1-") as scratch:
        manifests = Path(scratch) / "records.jsonl"
        with manifests.open("w", encoding="utf-8") as out:
            for record in records:
                out.write(record.to_json() + "\n")
        engine = open_database(Path(scratch) / "data")
        try:
            cache = ManifestCache(engine)
            summary = import_files(cache, [manifests], workers=1)
            if summary.imported != len(records) or summary.rejects:
                raise RuntimeError(f"the records did not import cleanly: {summary}")
            matcher = Matcher(cache)
            cache.plate_index()  # built once, at the first match: not a match's cost
            outcomes, cpu_ms = [], []
            for truck in trucks:
                started = time.process_time()
                reading = PlateReading("bench", due, truck.reads)
                result = matcher.match(observation_of([reading], due))
                cpu_ms.append((time.process_time() - started) * 1000)
                outcomes.append(_outcome(truck, own[canonical_key(truck.plate)], result))
        finally:
            engine.dispose()
    hits = sum(o.hit for o in outcomes)
    return {
        "cache_records": len(records),
        "decoys": cache_size,
        "decoy_seed": seed,
        "match_at_1": round(hits / len(trucks), 4),
        "no_candidate": sum(o.first is None for o in outcomes),
        "match_cpu_ms_median": round(statistics.median(cpu_ms), 2),
    }, outcomes


def _outcome(truck: Truck, ref: str, result: Any) -> MatchOutcome:
    candidates = result.candidates
    if not candidates:
        return MatchOutcome(truck.plate, False, None)
    first = candidates[0]
    alone = len(candidates) == 1 or candidates[1].score < first.score
    return MatchOutcome(truck.plate, first.ref == ref and alone, first.record.transport.plate)


def _records(
    trucks: Sequence[Truck], cache_size: int, seed: int, due: dt.datetime
) -> tuple[dict[str, str], list[Manifest]]:
    """(own record's ref by plate key, every record): the decoys first, then one record per
    labelled plate, each due at `due`."""
    day = due.date()
    labels = {canonical_key(t.plate): t.plate for t in trucks}
    seen = set(labels)  # no decoy takes a labelled plate
    rng = random.Random(seed)
    records = [new_record(rng, day, serial, seen) for serial in range(1, cache_size + 1)]
    own: dict[str, str] = {}
    filler = random.Random(f"{seed}:own")  # the own records' other fields
    for serial, (key, plate) in enumerate(labels.items(), start=cache_size + 1):
        record = new_record(filler, day, serial, seen)
        fits = match_formats(plate)
        vehicle = record.transport.model_copy(
            update={"plate": plate} | ({"nationality": fits[0].country} if fits else {})
        )
        records.append(record.model_copy(update={"transport": vehicle}))
        own[key] = record.ref
    return own, [r.model_copy(update={"expected_arrival": due}) for r in records]
