"""Which plate models this box runs, as a short version for its health report: the first 8
hex digits of the SHA-256 of each ONNX file the worker loads (the detector's and the reader's),
so the fleet operator sees which boxes run which weights after an update."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

from drivers.plates.onnx_models import OWN_MODELS

MODEL_FILES = ("plate_detector.onnx", "plate_reader.onnx")


@functools.cache  # the files change only with the software
def plate_models_version(models: Path = OWN_MODELS) -> str:
    """e.g. "detector 6c8e12aa, reader 1f0b33c2"; a file missing is named so."""
    parts = []
    for name in MODEL_FILES:
        label = name.removeprefix("plate_").removesuffix(".onnx")
        try:
            digest = hashlib.sha256((models / name).read_bytes()).hexdigest()[:8]
        except OSError:
            digest = "missing"
        parts.append(f"{label} {digest}")
    return ", ".join(parts)
