"""Judge a rule or threshold of the plate pipeline by an ablation: the same labelled sets read
with some constants of drivers/plates/{ranking,recognizer,regions,plate_windows}.py set otherwise
(a rule switched off, a threshold moved), one set after another on one core, as
`carec-edge plates bench` reads them.

    .venv/bin/python scripts/plate_ablation.py --set LOOK_ALIKE_DIGITS=0 DIR [DIR...]
    .venv/bin/python scripts/plate_ablation.py --set recognizer.FOUND=0.7 DIR [DIR...]

Prints one JSON line per set: Top-1 and Top-5 (and match@1 with --cache-size N). A real set is
read on its tuning part (`--part tune`, the default): the reporting part is kept for reported
figures, never for choosing a rule. Generated sets: a tuning seed of drivers/plates/seeds.py,
never the reporting seed.
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
    parser.add_argument(
        "--part",
        choices=("tune", "report", "all"),
        default="tune",
        help="of a real set (default tune; all: a generated set, which has no parts)",
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")

    from drivers.plates import plate_windows, ranking, recognizer, regions
    from drivers.plates.bench import bench_dataset
    from edge.plate_formats import FORMATS, VISITOR_FORMATS

    modules = {
        m.__name__.rsplit(".", 1)[1]: m for m in (ranking, recognizer, regions, plate_windows)
    }
    for name, value in args.set:
        where, _, constant = name.rpartition(".")
        holders = [m for key, m in modules.items() if where in ("", key)]
        holders = [m for m in holders if isinstance(getattr(m, constant, None), int | float)]
        if not constant.isupper() or len(holders) != 1:
            print(
                f"plate_ablation: {name} is not one numeric constant of {', '.join(modules)}",
                file=sys.stderr,
            )
            return 2
        setattr(holders[0], constant, type(getattr(holders[0], constant))(value))
    ranking._KNOWN_FORMATS = tuple((f, 1.0) for f in FORMATS) + tuple(
        (f, ranking.VISITOR) for f in VISITOR_FORMATS
    )  # built at import from VISITOR
    ranking.interpretations.cache_clear()
    for directory in args.datasets:
        report = bench_dataset(
            directory,
            baseline=False,
            limit=args.limit,
            cache_size=args.cache_size,
            part=None if args.part == "all" else args.part,
        )
        report["set"] = dict(args.set)
        print(json.dumps(report, ensure_ascii=False), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
