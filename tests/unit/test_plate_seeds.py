"""The reporting seed of the plate benchmarks is no seed anything was tuned or trained on."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from drivers.plates.seeds import (
    DECOY_SEED,
    REPORTING_SEED,
    TUNING_SEEDS,
    check_reporting_seed,
    real_part,
)
from tests.bench import bench_plates

ROOT = Path(__file__).resolve().parents[2]
TRAINER = ROOT / "scripts" / "train_plate_reader.py"
# a seed written on a line that speaks of seeds: `TRAIN_SEED = 6001`, `# the unit tests use 6003`
_FOUR_DIGITS = re.compile(r"(?<![\w.])\d{4}(?![\w.])")
# a training run's seed in its commit message: `--seed 6101` in "Plate reader run 9: ..."
_TRAINING_SEED = re.compile(r"--seed[ =](\d+)")
_TRAINING_RUN = re.compile(r"plate reader run|train_plate_reader|train-plates", re.IGNORECASE)


def _trainer_seeds() -> set[int]:
    lines = TRAINER.read_text(encoding="utf-8").splitlines()
    return {int(n) for line in lines if "seed" in line.lower() for n in _FOUR_DIGITS.findall(line)}


def test_the_reporting_seed_is_no_tuning_seed() -> None:
    assert REPORTING_SEED not in TUNING_SEEDS
    assert DECOY_SEED not in TUNING_SEEDS
    assert bench_plates.SEED == REPORTING_SEED  # what `make bench` reports on


def test_every_seed_of_the_trainers_defaults_is_a_listed_tuning_seed() -> None:
    found = _trainer_seeds()
    assert {6001, 6002, 6003} <= found  # the reading of the script still finds them
    assert found <= TUNING_SEEDS.keys(), f"not listed in drivers/plates/seeds.py: {found}"
    assert REPORTING_SEED not in found


def test_every_training_runs_seed_in_the_git_history_is_a_listed_tuning_seed() -> None:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("not a git checkout: the history cannot be read")
    shallow = subprocess.run(
        ["git", "rev-parse", "--is-shallow-repository"], cwd=ROOT, capture_output=True, text=True
    ).stdout.strip()
    if shallow == "true":
        pytest.skip("a shallow clone: the training runs' commits are not in it")
    log = subprocess.run(
        ["git", "log", "--format=%B%x00"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    trained = {
        int(seed)
        for message in log.split("\0")
        if _TRAINING_RUN.search(message)
        for seed in _TRAINING_SEED.findall(message)
    }
    assert {6101, 6102, 6103} <= trained  # runs 7 to 9 of the reader
    assert trained <= TUNING_SEEDS.keys(), f"not listed in drivers/plates/seeds.py: {trained}"
    assert REPORTING_SEED not in trained
    assert DECOY_SEED not in trained


def test_a_figure_on_a_tuning_seed_is_refused_with_its_use() -> None:
    with pytest.raises(ValueError, match="2026 is a tuning seed"):
        check_reporting_seed(2026)
    check_reporting_seed(REPORTING_SEED)


def test_the_benchmark_refuses_to_report_on_a_tuning_seed(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert bench_plates.main(["--seed", "2026", "--per-country", "1"]) == 2
    assert "2026 is a tuning seed" in capsys.readouterr().err


def test_a_real_plate_is_in_one_part_however_it_is_written() -> None:
    # Cyrillic and its Latin look-alikes are one plate: two photographs of it never straddle
    assert real_part("А049УЕ89") == real_part("A049YE89") == real_part("a049 ye 89")


def test_the_real_sets_are_cut_about_in_half() -> None:
    parts = [real_part(f"{n:03d}ABC02") for n in range(1000)]
    assert 400 < parts.count("report") < 600
    assert set(parts) == {"report", "tune"}
