"""Which seeds of the plate generator are for tuning and which for reporting.

A figure is only worth reporting on plates nothing was chosen on. Every seed that has chosen
something (a heuristic's constant, a training run's data or weights, a test's floor) is a
tuning seed and is listed here with what it was used for; the benchmarks report generated
sets on REPORTING_SEED alone, which no tuning may ever use. `make bench` and
`tests/bench/bench_plates.py` report on it; tests/unit/test_plate_seeds.py fails if it meets a
tuning seed, a default of scripts/train_plate_reader.py or a training run's `--seed N` in the
git history (and if one of those is not listed here).

To tune on a generated set, draw it with one of TUNING_SEEDS (or add a new one here, with its
use); never with REPORTING_SEED.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from types import MappingProxyType

from drivers.plates.ranking import plate_key

# seed -> what it was used for; a seed listed here never appears in a reported figure
TUNING_SEEDS = MappingProxyType(
    {
        1: "the visitors' sets (TR, GE, LT, PL, DE, BY, UA) the visitor formats were tuned on",
        2026: "the generated sets the ranking's heuristics and the training weights were chosen "
        "on (reported as results up to issue 13: tuned on)",
        2027: "generated sets that compared training runs and ranking changes",
        4242: "tests/plates/test_recognition.py's scenes, whose floors were set on it",
        6001: "scripts/train_plate_reader.py TRAIN_SEED: the reader's training crops",
        6002: "scripts/train_plate_reader.py VALIDATION_SEED: the crops that pick the checkpoint",
        6003: "the reader's unit tests' crops",
        6101: "training run 7 (git log: --seed 6101)",
        6102: "training run 8 (git log: --seed 6102)",
        6103: "training run 9 (git log: --seed 6103)",
        6201: "scripts/train_plate_detector.py TRAIN_SEED: the detector's rendered scenes, "
        "pasted plates and augmentation",
        6202: "scripts/train_plate_detector.py VALIDATION_SEED: the rendered scenes that pick "
        "the detector's checkpoint and thresholds",
        6203: "tests/plates/test_plate_detector.py's scenes, whose floors were set on it",
    }
)

# The generated sets of every reported figure (bench_plates, `make bench`) from issue 13 on.
REPORTING_SEED = 9413

# The decoy records of the match@1 benchmark: neither a plate of them nor their arrival times
# were ever looked at to tune the matcher.
DECOY_SEED = 9414


def check_reporting_seed(seed: int) -> None:
    """Refuse a tuning seed where a figure is to be reported."""
    if seed in TUNING_SEEDS:
        raise ValueError(
            f"seed {seed} is a tuning seed ({TUNING_SEEDS[seed]}); report on {REPORTING_SEED}"
        )


# -- real photographs ---------------------------------------------------------------------------
# A labelled set of real photographs (the dev folders, the US photographs) is cut in two by the
# plate it shows: a plate whose hash falls in the reporting share is never trained or tuned on,
# and reported figures count those frames alone. Cut by plate, not by file: several frames of one
# car (ru-043 and ru-044) land on the same side.
# The labelled real sets, where a development checkout has them beside it (never in the
# project, never needed by a test): name -> folder.
SHARED_DATA = Path(__file__).resolve().parents[3] / "shared" / "data"
REAL_SETS = MappingProxyType(
    {
        "cn-ccpd-frames": SHARED_DATA / "plates-real-dev" / "cn-ccpd-frames",
        "kz-frames": SHARED_DATA / "plates-real-dev" / "kz-frames",
        "mn-frames": SHARED_DATA / "plates-real-dev" / "mn-frames",
        "ru-frames": SHARED_DATA / "plates-real-dev" / "ru-frames",
        "us": SHARED_DATA / "alpr-dev" / "us",
    }
)
REAL_SPLIT_SALT = "carec-edge real split 1"
REAL_REPORT_SHARE = 2  # one plate in two is for reporting: the small sets (MN, KZ) need it


def real_part(plate: str) -> str:
    """ "report" or "tune": which part of a real labelled set a frame showing `plate` is in."""
    digest = hashlib.sha256(f"{REAL_SPLIT_SALT}:{plate_key(plate)}".encode()).digest()
    return "report" if int.from_bytes(digest[:8], "big") % REAL_REPORT_SHARE == 0 else "tune"
