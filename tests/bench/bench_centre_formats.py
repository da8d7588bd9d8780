"""How fast the centre reads the CIS's files (issue 14): records per second of `read_cuscar`
(UN/EDIFACT through pydifact) and `read_ncts_xml` (lxml, the XSD checked per declaration), each
into validated contract records, against in the same run plain `json.loads` of the same records'
JSON Lines (the floor: no validation at all) and the contract's own JSON Lines reader
(`parse_manifest_json`, what the box's import does per line).

    .venv/bin/python -m tests.bench.bench_centre_formats [--records N] [--repeats R] [--seed S]

The records are a synthetic day (`edge.synthetic.generate_day`). Each reader runs `--repeats`
times on the same bytes and its fastest run is kept (the machine is shared); times are CPU
time of this process (`time.process_time`). Writing is measured once per format.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import random
import sys
import time
from collections.abc import Callable
from typing import Any

SEED = 1414
DAY = dt.date(2026, 11, 28)


def _fastest(work: Callable[[], Any], repeats: int) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeats):
        start = time.process_time()
        result = work()
        best = min(best, time.process_time() - start)
    return best, result


def run(records: int, repeats: int, seed: int) -> dict[str, Any]:
    from centre.formats.cuscar import read_cuscar, write_cuscar
    from centre.formats.ncts_xml import read_ncts_xml, write_ncts_xml
    from edge.manifest import Manifest, parse_manifest_json
    from edge.synthetic import generate_day

    day = generate_day(random.Random(seed), DAY, records)
    lines = [record.to_json().encode("utf-8") for record in day]
    jsonl = b"\n".join(lines) + b"\n"
    write_seconds = {}
    start = time.process_time()
    edifact = write_cuscar(day, "KZ-CIS", "KZ-CENTRE")
    write_seconds["cuscar"] = time.process_time() - start
    start = time.process_time()
    xml = write_ncts_xml(day)
    write_seconds["ncts_xml"] = time.process_time() - start

    readers: dict[str, tuple[int, Callable[[], list[Any]]]] = {
        "json.loads": (len(jsonl), lambda: [json.loads(line) for line in jsonl.splitlines()]),
        "parse_manifest_json": (
            len(jsonl),
            lambda: [parse_manifest_json(line) for line in jsonl.splitlines()],
        ),
        "read_cuscar": (len(edifact), lambda: read_cuscar(edifact, "bench.edi")),
        "read_ncts_xml": (len(xml), lambda: read_ncts_xml(xml, "bench.xml")),
    }
    report: dict[str, Any] = {
        "benchmark": "centre_formats",
        "records": records,
        "seed": seed,
        "repeats": repeats,
        "read": {},
    }
    baseline = 0.0
    for name, (size, read) in readers.items():
        seconds, result = _fastest(read, repeats)
        if name.startswith("read_"):
            assert result == day, f"{name} did not read back the records it was given"
        elif name == "parse_manifest_json":
            assert all(isinstance(r, Manifest) for r in result)
        rate = records / seconds
        baseline = baseline or rate
        report["read"][name] = {
            "records_per_s": round(rate),
            "bytes_per_record": round(size / records),
            "vs_json_loads": round(rate / baseline, 3),
        }
    report["write_records_per_s"] = {
        name: round(records / seconds) for name, seconds in write_seconds.items()
    }
    slowest = min(report["read"][name]["records_per_s"] for name in ("read_cuscar", "read_ncts_xml"))  # fmt: skip
    report["seconds_for_100k_records_slowest_format"] = round(100_000 / slowest, 1)
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="bench_centre_formats")
    parser.add_argument("--records", type=int, default=10_000)
    parser.add_argument("--repeats", type=int, default=3, help="runs per reader, fastest kept")
    parser.add_argument("--seed", type=int, default=SEED)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.records, args.repeats, args.seed)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
