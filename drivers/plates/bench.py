"""How well and how fast plates are read from a labelled set (`carec-edge plates bench`), and
in the same run the baseline: plain RapidOCR on the whole frame, its texts ranked by its own
confidence. Both run on one core (one onnxruntime thread), as on the box. Each frame's wall
time and this process's CPU time are reported: on a shared machine the wall time includes
waiting for the core, the CPU time is what the frame costs it.

How a read is judged: the label and each candidate are compared as plate keys
(`drivers.plates.ranking.plate_key`): upper case, letters and digits only (spaces, dashes and
the Chinese plate's middle dot do not count), Ukrainian/Belarusian І as I, and each Cyrillic
letter that has a Latin look-alike (А В Е К М Н О Р С Т У Х) as that Latin letter, so
`Е014СХ86` and `E014CX86` are one plate. Every other character must be the label's: a Mongolian
Ө or Ү, a Chinese province's Han character, and a digit for its look-alike letter (`O` for
`0`, `I` for `1`, `B` for `8`) are misses. Top-1: the first candidate's key is the label's;
Top-5: one of the first five is. A set whose labels write every O as 0 (`labels_write_o_as_zero`:
the US photographs) also gets top1_o_as_0 and top5_o_as_0, where O and 0 are one character: on
such a set a read of the letter O on the plate cannot be told from a right one by the label.

With `cache_size`, match@1 (drivers/plates/match_bench.py) is measured on the same reads: the
labelled plates' own records among that many decoy records, the real matcher on a real store.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import cv2

from drivers.plates.dataset import Annotation, labelled_images
from drivers.plates.match_bench import Truck, candidates_of, match_at_1
from drivers.plates.ranking import plate_key
from drivers.plates.recognizer import FrameResult, PlateRecognizer, RecognizerSettings
from drivers.plates.seeds import real_part

Reader = Callable[[Any], list[str]]  # a BGR frame -> texts, best first
Miss = Callable[[str, str, list[str]], None]  # (image name, label, keys read)


def bench_dataset(
    directory: Path,
    settings: RecognizerSettings | None = None,
    *,
    baseline: bool = True,
    limit: int | None = None,
    baseline_limit: int | None = None,
    on_miss: Miss | None = None,
    cache_size: int | None = None,
    on_match_miss: Callable[[str, str, str | None], None] | None = None,
    part: str | None = None,
) -> dict[str, Any]:
    """The pipeline on the set's first `limit` frames (all when None), and the baseline on the
    first `baseline_limit` of those (it is four to five times slower); with `cache_size`, the
    pipeline's reads matched among that many decoy records (0 too: the labelled plates alone).
    With `part` ("tune" or "report"), only the frames of that part of a real set
    (`drivers.plates.seeds.real_part`)."""
    if part not in (None, "tune", "report"):
        raise ValueError(f"part {part!r}: tune or report")
    samples = [
        (path, note)
        for path, note in labelled_images(directory)
        if part is None or real_part(note.plate) == part
    ][:limit]
    if not samples:
        raise ValueError(f"{directory}: no labelled images (NAME.jpg with NAME.txt beside it)")
    cv2.setNumThreads(1)  # one core, as the worker has on the box
    recognizer = PlateRecognizer(settings)
    results: list[FrameResult] = []

    def ours(frame: Any) -> list[str]:
        result = recognizer.read(frame)
        results.append(result)
        return [c.guess.key for c in result.candidates]

    out: dict[str, Any] = {"dataset": str(directory), "frames": len(samples)}
    if part is not None:
        out["part"] = part
    out["pipeline"] = _measure(samples, ours, on_miss)
    del results[0]  # the untimed first call's
    if cache_size is not None:
        trucks = [
            Truck(note.plate, candidates_of(result))
            for (_, note), result in zip(samples, results, strict=True)
        ]
        figures, outcomes = match_at_1(trucks, cache_size)
        out["match"] = figures
        if on_match_miss is not None:
            for (path, note), outcome in zip(samples, outcomes, strict=True):
                if not outcome.hit:
                    on_match_miss(path.name, note.plate, outcome.first)
    if baseline:
        some = samples[:baseline_limit]
        out["baseline_frames"] = len(some)
        out["baseline_rapidocr_whole_frame"] = _measure(some, _rapidocr_whole_frame(), None)
    return out


def labels_write_o_as_zero(plates: Sequence[str]) -> bool:
    """Whether a set's labels may follow the convention of writing every O as 0 (the US
    photographs of alpr-dev: not one of 222 labels holds the letter O): Latin plates only (a
    Mongolian or Chinese set's lack of O says nothing of it), no label has an O, some a 0."""
    keys = [plate_key(plate) for plate in plates]
    return (
        all(key.isascii() for key in keys)
        and not any("O" in key for key in keys)
        and any("0" in key for key in keys)
    )


def is_right(label: str, key: str, *, o_as_zero: bool = False) -> bool:
    """Whether a read (a key) is the labelled plate, as the module docstring says; with
    `o_as_zero`, for a set labelled that way, O and 0 count as one character (reported apart,
    as top1_o_as_0, beside the strict figure)."""
    truth = plate_key(label)
    if o_as_zero:
        return key.replace("O", "0") == truth.replace("O", "0")
    return key == truth


def _measure(
    samples: Sequence[tuple[Path, Annotation]], read: Reader, on_miss: Miss | None
) -> dict[str, Any]:
    o_as_zero = labels_write_o_as_zero([note.plate for _, note in samples])
    top1 = top5 = top1_o = top5_o = 0
    times: list[float] = []
    cpu: list[float] = []  # this process's CPU time: what the frame costs its one core
    read(cv2.imread(str(samples[0][0])))  # the first call allocates; do not time it
    for path, note in samples:
        frame = cv2.imread(str(path))
        if frame is None:
            raise ValueError(f"{path}: not an image OpenCV can read")
        started, cpu_started = time.perf_counter(), time.process_time()
        keys = read(frame)
        times.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        right = [is_right(note.plate, key) for key in keys[:5]]
        top1 += bool(right) and right[0]
        top5 += any(right)
        if o_as_zero:
            right_o = [is_right(note.plate, key, o_as_zero=True) for key in keys[:5]]
            top1_o += bool(right_o) and right_o[0]
            top5_o += any(right_o)
        if on_miss is not None and not (right and right[0]):
            on_miss(path.name, note.plate, keys[:5])
    times.sort()
    cpu.sort()
    out = {
        "top1": round(top1 / len(samples), 4),
        "top5": round(top5 / len(samples), 4),
        "ms_median": round(statistics.median(times), 1),
        "ms_p95": round(times[min(len(times) - 1, int(0.95 * len(times)))], 1),
        "cpu_ms_median": round(statistics.median(cpu), 1),
        "cpu_ms_p95": round(cpu[min(len(cpu) - 1, int(0.95 * len(cpu)))], 1),
    }
    if o_as_zero:
        out["top1_o_as_0"] = round(top1_o / len(samples), 4)
        out["top5_o_as_0"] = round(top5_o / len(samples), 4)
    return out


def _rapidocr_whole_frame() -> Reader:
    from rapidocr import RapidOCR  # the baseline only: its own engine and configuration

    engine = RapidOCR(
        params={
            "Global.log_level": "critical",
            "EngineConfig.onnxruntime.intra_op_num_threads": 1,
            "EngineConfig.onnxruntime.inter_op_num_threads": 1,
        }
    )

    def read(frame: Any) -> list[str]:
        result: Any = engine(frame)  # RapidOCROutput for a whole-pipeline call
        texts = list(result.txts or ())
        scores = list(result.scores or ())
        ranked = sorted(zip(scores, texts, strict=True), key=lambda pair: -pair[0])
        return [plate_key(text) for _, text in ranked]

    return read
