"""`carec-edge plates read IMAGE...` and `carec-edge plates bench --dataset DIR`."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "plates", help="licence-plate recognition on images"
    )
    actions = parser.add_subparsers(dest="action", required=True, metavar="ACTION")
    read = actions.add_parser("read", help="print each image's plate candidates as JSON")
    read.add_argument("images", nargs="+", type=Path, metavar="IMAGE")
    read.add_argument("--crops", type=Path, help="save each best candidate's crop here")
    _detector_options(read)
    read.set_defaults(handler=read_plates)
    bench = actions.add_parser(
        "bench", help="accuracy and speed on a labelled set (NAME.jpg + NAME.txt), as JSON"
    )
    bench.add_argument("--dataset", type=Path, required=True, metavar="DIR")
    bench.add_argument("--json", action="store_true", help="only the JSON (the default too)")
    bench.add_argument("--limit", type=int, help="only the first N images")
    bench.add_argument("--no-baseline", action="store_true", help="skip plain RapidOCR")
    bench.add_argument("--misses", action="store_true", help="list misses on stderr")
    _detector_options(bench)
    bench.set_defaults(handler=bench_plates)


def _detector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--detector-side", type=int, default=640, metavar="PX")
    parser.add_argument("--second-pass-side", type=int, default=1024, metavar="PX")


def _settings(args: argparse.Namespace) -> Any:
    from drivers.plates.recognizer import RecognizerSettings
    from drivers.plates.text_detector import DetectorSettings

    return RecognizerSettings(
        detector=DetectorSettings(max_side=args.detector_side),
        second_pass_side=args.second_pass_side,
    )


def read_plates(args: argparse.Namespace, _context: CliContext) -> int:
    import cv2
    import numpy as np

    from drivers.plates.recognizer import PlateRecognizer

    recognizer = PlateRecognizer(_settings(args))
    failed = 0
    for path in args.images:
        frame = cv2.imread(str(path))
        if frame is None:
            print(f"{path}: not an image this box can read", file=sys.stderr)
            failed += 1
            continue
        result = recognizer.read(np.asarray(frame, np.uint8))
        if args.crops and result.candidates:
            args.crops.mkdir(parents=True, exist_ok=True)
            (args.crops / f"{path.stem}.plate.jpg").write_bytes(result.candidates[0].crop_jpeg)
        print(
            json.dumps(
                {
                    "image": str(path),
                    "candidates": [
                        {
                            "text": c.guess.written,
                            "key": c.guess.key,
                            "confidence": round(c.guess.confidence, 4),
                            "score": round(c.guess.score, 4),
                            "country": c.guess.country,
                            "format": c.guess.format,
                            "box": list(c.box),
                        }
                        for c in result.candidates
                    ],
                    "ms": {k: round(v, 1) for k, v in result.timings_ms.items()},
                },
                ensure_ascii=False,
            )
        )
    return 1 if failed else 0


def bench_plates(args: argparse.Namespace, _context: CliContext) -> int:
    from drivers.plates.bench import bench_dataset
    from drivers.plates.dataset import DatasetError

    def miss(name: str, truth: str, keys: list[str]) -> None:
        print(f"miss {name}: {truth} read {keys}", file=sys.stderr)

    try:
        report = bench_dataset(
            args.dataset,
            _settings(args),
            baseline=not args.no_baseline,
            limit=args.limit,
            on_miss=miss if args.misses else None,
        )
    except (DatasetError, ValueError) as error:
        print(f"plates bench: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0
