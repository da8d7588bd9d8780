"""The plate models' version a box reports: the short SHA-256 of each ONNX file it loads, so
two boxes with other weights never report the same version."""

from __future__ import annotations

import hashlib
from pathlib import Path

from drivers.plates.model_version import plate_models_version
from drivers.plates.onnx_models import OWN_MODELS


def test_the_version_names_each_shipped_model_by_its_hash() -> None:
    digests = [
        hashlib.sha256((OWN_MODELS / name).read_bytes()).hexdigest()[:8]
        for name in ("plate_detector.onnx", "plate_reader.onnx")
    ]
    assert plate_models_version() == f"detector {digests[0]}, reader {digests[1]}"


def test_other_weights_are_another_version_and_a_missing_file_is_named(tmp_path: Path) -> None:
    (tmp_path / "plate_detector.onnx").write_bytes(
        (OWN_MODELS / "plate_detector.onnx").read_bytes()
    )
    (tmp_path / "plate_reader.onnx").write_bytes(b"other weights")
    other = plate_models_version(tmp_path)
    assert other != plate_models_version()
    assert other.startswith(plate_models_version().split(",")[0])  # the same detector
    (tmp_path / "plate_reader.onnx").unlink()
    assert plate_models_version.__wrapped__(tmp_path).endswith("reader missing")
