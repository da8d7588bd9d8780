"""Judge a rule or threshold of the plate ranking by an ablation: the same labelled sets read with
some of drivers/plates/ranking.py's constants set otherwise (a rule switched off, a threshold
moved), one set after another on one core, as `carec-edge plates bench` reads them.

    .venv/bin/python scripts/plate_ablation.py --set LOOK_ALIKE_DIGITS=0 DIR [DIR...]

Prints one JSON line per set: Top-1 and Top-5 (and match@1 with --cache-size N). Judge a rule
on sets it was not tuned on (issue 13): the real dev folders, the reporting seed's generated
sets; never on the seeds of drivers/plates/seeds.py's TUNING_SEEDS alone.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path


def _assignment(text: str) -> tuple[str, float]:
    name, _, value = text.partition("=")
    try:
        return name.strip(), float(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r}: want NAME=NUMBER") from None


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", nargs="+", type=Path, metavar="DIR")
    parser.add_argument("--set", type=_assignment, action="append", default=[], metavar="N=V")
    parser.add_argument("--cache-size", type=int, help="match@1 among N decoys too")
    parser.add_argument("--limit", type=int)
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from drivers.plates import ranking
    from drivers.plates.bench import bench_dataset
    from edge.plate_formats import FORMATS, VISITOR_FORMATS

    for name, value in args.set:
        current = getattr(ranking, name, None)
        if not name.isupper() or not isinstance(current, int | float):
            print(f"plate_ablation: {name} is no numeric constant of ranking.py", file=sys.stderr)
            return 2
        setattr(ranking, name, type(current)(value))
    ranking._KNOWN_FORMATS = tuple((f, 1.0) for f in FORMATS) + tuple(
        (f, ranking.VISITOR) for f in VISITOR_FORMATS
    )  # built at import from VISITOR
    ranking.interpretations.cache_clear()
    for directory in args.datasets:
        report = bench_dataset(
            directory, baseline=False, limit=args.limit, cache_size=args.cache_size
        )
        report["set"] = dict(args.set)
        print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
