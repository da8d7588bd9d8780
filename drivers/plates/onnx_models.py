"""Where the recognition models live and how they are run: one onnxruntime thread each, so
a worker process uses one core and leaves the other to the service and the kiosk.

The PP-OCR models come inside the `rapidocr` wheel; they are found without importing
`rapidocr` (whose import pulls in its own engine and configuration we do not use)."""

from __future__ import annotations

import functools
import importlib.util
from pathlib import Path

import onnxruntime as ort

PPOCR_DETECTOR = "PP-OCRv6_det_small.onnx"
PPOCR_RECOGNISER = "PP-OCRv6_rec_small.onnx"
OWN_MODELS = Path(__file__).parent / "models"


class ModelMissingError(RuntimeError):
    """A model file that should ship with a package is not there."""


@functools.cache
def rapidocr_models() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise ModelMissingError(
            "the rapidocr package is not installed (it carries the PP-OCR models)"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "models"


def ppocr_model(name: str) -> Path:
    path = rapidocr_models() / name
    if not path.is_file():
        raise ModelMissingError(f"{name} is not in {path.parent}; reinstall rapidocr")
    return path


def session(model: Path, threads: int = 1) -> ort.InferenceSession:
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    options.log_severity_level = 3  # warnings about unused initialisers are noise here
    return ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
