"""The plate models in the repository stay small (issue 13: under 20 MB together): the box
loads them at start and an update bundle carries them to every crossing."""

from __future__ import annotations

from pathlib import Path

import drivers.plates

MODELS = Path(drivers.plates.__file__).parent / "models"
MOST_BYTES = 20 * 1024 * 1024


def test_the_plate_models_together_stay_under_20_mb() -> None:
    files = [p for p in MODELS.iterdir() if p.is_file()]
    assert {p.suffix for p in files} >= {".onnx", ".json"}
    sizes = {p.name: p.stat().st_size for p in files}
    assert sum(sizes.values()) < MOST_BYTES, sizes
