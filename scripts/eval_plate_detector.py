"""The plate detector on the real sets' reporting part, beside the generic text detector it
replaces: recall of the labelled plate's box at IoU 0.5 and 0.3, boxes a frame, and CPU
milliseconds of one call on one thread (frames read from disk first, not timed).

    .venv/bin/python scripts/eval_plate_detector.py            # JSON on stdout
    .venv/bin/python scripts/eval_plate_detector.py --part tune

The baseline is PP-OCR's text detector and `plate_regions` (a region counts when any of its
six candidates overlaps the label), as the recogniser used them before the plate detector."""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.dataset import labelled_images
from drivers.plates.plate_detector import MODELS, PlateDetector
from drivers.plates.regions import plate_regions
from drivers.plates.seeds import REAL_SETS, SHARED_DATA, real_part
from drivers.plates.text_detector import BGR, Quad, TextDetector

Box = tuple[float, float, float, float]  # x0, y0, x1, y1


def bounds(quad: Quad | npt.NDArray[np.float32]) -> Box:
    (x0, y0), (x1, y1) = quad.min(axis=0), quad.max(axis=0)
    return float(x0), float(y0), float(x1), float(y1)


def iou(a: Box, b: Box) -> float:
    """Of the axis-aligned boxes: the labels are such boxes."""
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    if w <= 0 or h <= 0:
        return 0.0
    inter = w * h
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union


def best_iou(label: Box, found: Sequence[Quad]) -> float:
    return max((iou(label, bounds(quad)) for quad in found), default=0.0)


def summary(ious: Sequence[float], boxes: Sequence[int], ms: Sequence[float]) -> dict[str, float]:
    out = {
        "plates": len(ious),
        "recall_iou50": round(float(np.mean([v >= 0.5 for v in ious])), 4) if ious else 0.0,
        "recall_iou30": round(float(np.mean([v >= 0.3 for v in ious])), 4) if ious else 0.0,
        "boxes_per_frame": round(float(np.mean(boxes)), 2) if boxes else 0.0,
    }
    if ms:
        out["cpu_ms_median"] = round(float(np.median(ms)), 1)
        out["cpu_ms_p95"] = round(float(np.percentile(ms, 95)), 1)
    return out


def measure(
    frames: Sequence[tuple[BGR, Box]], find: Callable[[BGR], list[Quad]]
) -> dict[str, float]:
    ious, boxes, ms = [], [], []
    for frame, label in frames:
        started = time.process_time()
        found = find(frame)
        ms.append((time.process_time() - started) * 1000)
        ious.append(best_iou(label, found))
        boxes.append(len(found))
    return summary(ious, boxes, ms)


def load(folder: Path, part: str) -> list[tuple[BGR, Box]]:
    frames = []
    for path, label in labelled_images(folder):
        if real_part(label.plate) == part:
            image = cv2.imread(str(path))
            if image is not None:
                box = (label.x, label.y, label.x + label.width, label.y + label.height)
                frames.append((np.asarray(image, np.uint8), tuple(map(float, box))))
    return frames  # type: ignore[return-value]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=("report", "tune"), default="report")
    parser.add_argument("--models", type=Path, default=MODELS)
    parser.add_argument("--no-baseline", action="store_true")
    args = parser.parse_args(argv)
    cv2.setNumThreads(1)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    detector = PlateDetector(args.models)
    text = None if args.no_baseline else TextDetector()

    def plates(frame: BGR) -> list[Quad]:
        return [box.quad for box in detector.detect(frame)]

    def regions(frame: BGR) -> list[Quad]:
        assert text is not None
        return [region.quad for region in plate_regions(text.detect(frame))]

    results: dict[str, dict[str, object]] = {}
    for name, folder in REAL_SETS.items():
        if not folder.is_dir():
            continue
        frames = load(folder, args.part)
        entry: dict[str, object] = {"plate_detector": measure(frames, plates)}
        if text is not None:
            entry["text_detector_regions"] = measure(frames, regions)
        results[name] = entry
    if not results:
        raise SystemExit(f"no real set under {SHARED_DATA}")
    print(json.dumps({"part": args.part, "sets": results}, indent=2))


if __name__ == "__main__":
    main()
