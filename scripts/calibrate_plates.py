"""Calibrate the plate pipeline's confidences on real photographs and write the result beside
the models: drivers/plates/models/plate_calibration.json (see drivers/plates/calibration.py).

The whole pipeline reads the tuning part of every real labelled set it is given (frames whose
plate `drivers.plates.seeds.real_part` puts in "tune"); the top candidate's raw confidence and
whether it is the labelled plate fit the curve. The reporting part is read too, only to report
how well calibrated the shipped curve is there (expected calibration error, and how often a read
called sure, 0.9 or more, is right), before and after.

    .venv/bin/python scripts/calibrate_plates.py DIR...   # default: the dev folders, if present

The curve is only worth shipping when the frames it is fitted on are frames the models did not
learn from. From issue 13 on, the reader and the plate detector train on the tuning part, so a
curve fitted there learns the models' confidence on their own training plates; measured, it made
the reporting part's calibration worse (expected calibration error 0.098 -> 0.159), and no curve
ships (the pipeline's confidences are the readers' own). Fit it on labelled frames of the
cameras themselves (`--out` elsewhere to judge first), which is what a deployment should do.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

SURE = 0.9  # what the kiosk and the matcher may take as sure


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sets", nargs="*", type=Path, metavar="DIR")
    parser.add_argument("--out", type=Path, help="default: the shipped models' folder")
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import cv2
    import numpy as np

    from drivers.plates.bench import is_right
    from drivers.plates.calibration import CALIBRATION, expected_calibration_error, fit
    from drivers.plates.dataset import labelled_images
    from drivers.plates.plate_reader import MODELS
    from drivers.plates.recognizer import PlateRecognizer, RecognizerSettings
    from drivers.plates.seeds import REAL_SETS, real_part

    cv2.setNumThreads(1)
    sets = [s for s in (args.sets or REAL_SETS.values()) if s.is_dir()]
    if not sets:
        print("calibrate_plates: no labelled set found", file=sys.stderr)
        return 2
    recognizer = PlateRecognizer(RecognizerSettings(calibrate=False))
    outcomes: dict[str, dict[str, list[tuple[float, bool]]]] = {}
    for directory in sets:
        parts: dict[str, list[tuple[float, bool]]] = {"tune": [], "report": []}
        for path, note in labelled_images(directory):
            frame = cv2.imread(str(path))
            if frame is None:
                continue
            candidates = recognizer.read(np.asarray(frame, np.uint8)).candidates
            top = candidates[0] if candidates else None
            right = top is not None and is_right(note.plate, top.guess.key)
            parts[real_part(note.plate)].append((top.guess.confidence if top else 0.0, right))
        outcomes[directory.name] = parts
        print(f"{directory.name}: read", file=sys.stderr)
    tune = [o for parts in outcomes.values() for o in parts["tune"]]
    curve = fit([c for c, _ in tune], [r for _, r in tune])

    def judged(pairs: list[tuple[float, bool]], calibrated: bool) -> dict[str, Any]:
        confidence = [curve(c) if calibrated else c for c, _ in pairs]
        right = [r for _, r in pairs]
        sure = [r for c, r in zip(confidence, right, strict=True) if c >= SURE]
        return {
            "frames": len(pairs),
            "top1": round(sum(right) / max(len(right), 1), 4),
            "ece": round(expected_calibration_error(confidence, right), 4),
            "sure_share": round(len(sure) / max(len(pairs), 1), 4),
            "sure_right": round(sum(sure) / len(sure), 4) if sure else None,
        }

    card = {
        "method": "Platt scaling: sigmoid(slope * logit(raw) + intercept) of the top candidate's "
        "confidence, fitted on the tuning part of the real sets",
        "slope": round(curve.slope, 6),
        "intercept": round(curve.intercept, 6),
        "sure": SURE,
        "fitted_on": {name: len(parts["tune"]) for name, parts in outcomes.items()},
        "reporting_part": {
            name: {
                "raw": judged(parts["report"], False),
                "calibrated": judged(parts["report"], True),
            }
            for name, parts in outcomes.items()
        },
    }
    out = (args.out or MODELS) / CALIBRATION
    out.write_text(json.dumps(card, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(json.dumps(card, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
