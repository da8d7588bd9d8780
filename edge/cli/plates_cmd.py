"""`carec-edge plates read IMAGE...` and `carec-edge plates bench --dataset DIR`."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from edge.cli.context import CliContext
from edge.cli.image_files import image_file_problem
from edge.config import PlatesConfig


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
    bench.add_argument(
        "--cache-size",
        type=int,
        default=10_000,
        metavar="N",
        help="match@1: the labelled plates' records among N decoy records (default 10000)",
    )
    bench.add_argument("--no-match", action="store_true", help="skip match@1")
    bench.add_argument(
        "--part",
        choices=("tune", "report"),
        help="only that part of a real set: report is what figures are given on (README)",
    )
    _detector_options(bench)
    bench.set_defaults(handler=bench_plates)


def _detector_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--detector-side", type=int, metavar="PX", help="default: plates.detector_side (640)"
    )
    parser.add_argument(
        "--second-pass-side",
        type=int,
        metavar="PX",
        help="default: plates.second_pass_side (1024)",
    )
    parser.add_argument(
        "--no-plate-detector",
        action="store_true",
        help="search whole frames with the text detector (as plates.plate_detector = false)",
    )


class _OptionError(ValueError):
    pass


def _settings(args: argparse.Namespace, context: CliContext) -> Any:
    """The recogniser's settings: the config's [plates], with the options given over them,
    checked by the same model (so --detector-side takes what plates.detector_side takes)."""
    from drivers.plates.recognizer import RecognizerSettings
    from drivers.plates.text_detector import DetectorSettings

    options = {"detector_side": args.detector_side, "second_pass_side": args.second_pass_side}
    given = {key: value for key, value in options.items() if value is not None}
    try:
        plates = PlatesConfig.model_validate(context.config.plates.model_dump() | given)
    except ValidationError as error:
        reasons = [
            f"--{str(item['loc'][0]).replace('_', '-')} {item['input']}: {item['msg']}"
            for item in error.errors(include_url=False)
        ]
        raise _OptionError("; ".join(reasons)) from None
    return RecognizerSettings(
        detector=DetectorSettings(max_side=plates.detector_side),
        second_pass_side=plates.second_pass_side,
        use_plate_detector=plates.plate_detector and not args.no_plate_detector,
    )


def _crops_problem(directory: Path) -> str | None:
    """Why crops cannot be saved in `directory` (made when missing), found before any work."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=directory):
            pass
    except OSError as error:
        return f"--crops {directory}: {error.strerror or error}"
    return None


def read_plates(args: argparse.Namespace, context: CliContext) -> int:
    import cv2
    import numpy as np

    from drivers.plates.recognizer import PlateRecognizer

    try:
        settings = _settings(args, context)
    except _OptionError as error:
        print(f"carec-edge plates: {error}", file=sys.stderr)
        return 2
    if args.crops and (problem := _crops_problem(args.crops)):
        print(f"carec-edge plates: {problem}", file=sys.stderr)
        return 2
    recognizer = PlateRecognizer(settings)
    failed = 0
    for path in args.images:
        if problem := image_file_problem(path):  # checked before OpenCV allocates the frame
            print(f"{path}: {problem}", file=sys.stderr)
            failed += 1
            continue
        try:
            frame = cv2.imread(str(path))
        except cv2.error as error:  # a header OpenCV refuses, in a format Pillow does not know
            print(f"{path}: not an image this box can read: {error.err}", file=sys.stderr)
            failed += 1
            continue
        if frame is None:
            print(f"{path}: not an image this box can read", file=sys.stderr)
            failed += 1
            continue
        result = recognizer.read(np.asarray(frame, np.uint8))
        if args.crops and result.candidates:
            crop = args.crops / f"{path.stem}.plate.jpg"
            try:
                crop.write_bytes(result.candidates[0].crop_jpeg)
            except OSError as error:
                print(f"{crop}: crop not saved: {error.strerror or error}", file=sys.stderr)
                failed += 1
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
                    "plates": [
                        {
                            "box": list(plate.box),
                            "score": plate.score,
                            "text": plate.candidates[0].guess.written,
                            "confidence": round(plate.candidates[0].guess.confidence, 4),
                        }
                        for plate in result.plates
                    ],
                    "ms": {k: round(v, 1) for k, v in result.timings_ms.items()},
                },
                ensure_ascii=False,
            )
        )
    return 1 if failed else 0


def bench_plates(args: argparse.Namespace, context: CliContext) -> int:
    from drivers.plates.bench import bench_dataset
    from drivers.plates.dataset import DatasetError

    def miss(name: str, truth: str, keys: list[str]) -> None:
        print(f"miss {name}: {truth} read {keys}", file=sys.stderr)

    def match_miss(name: str, truth: str, first: str | None) -> None:
        print(f"match miss {name}: {truth} matched {first or 'no record'}", file=sys.stderr)

    if not 0 <= args.cache_size <= 100_000:
        print(f"plates bench: --cache-size {args.cache_size}: from 0 to 100000", file=sys.stderr)
        return 2
    try:
        report = bench_dataset(
            args.dataset,
            _settings(args, context),
            baseline=not args.no_baseline,
            limit=args.limit,
            on_miss=miss if args.misses else None,
            cache_size=None if args.no_match else args.cache_size,
            on_match_miss=match_miss if args.misses else None,
            part=args.part,
        )
    except (DatasetError, _OptionError, ValueError) as error:
        print(f"plates bench: {error}", file=sys.stderr)
        return 2
    print(json.dumps(report, ensure_ascii=False))
    return 0
