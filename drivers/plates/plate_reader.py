"""The project's own plate text reader: a small CRNN trained on the corridor's synthetic plates
(scripts/train_plate_reader.py), run on onnxruntime with one thread. It reads what PP-OCR cannot:
the Cyrillic letters of Russian and Mongolian plates, beside Latin, digits and Chinese.

A crop is one text line (a two-line plate with its lines side by side). Texts follow the key
convention of `drivers.plates.ranking`: upper case, no separators, Cyrillic look-alikes as their
Latin twins. A candidate's confidence is the model's probability of exactly that text, summed
over its CTC alignments (`drivers.plates.ctc`), so confidences compare across crops and readers.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Literal, TypeAlias

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from drivers.plates.ctc import Candidates, ctc_candidates
from drivers.plates.onnx_models import session

MODELS = Path(__file__).parent / "models"
MODEL_NAME = "plate_reader"

Image: TypeAlias = npt.NDArray[np.uint8]
Line: TypeAlias = npt.NDArray[np.float32]  # (height, width), normalised, not yet padded


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class InputPolicy(_Strict):
    """How a crop becomes the model's input; the training script and the reader share it."""

    height: int = 32
    min_width: int = 32
    max_width: int = 352  # a wider line is squeezed to this width
    width_multiple: int = 8  # a batch is padded on the right to a multiple of this
    std_floor: float = 4.0  # grey levels; a flat crop is not blown up into pure noise
    layout: Literal["NCHW"] = "NCHW"
    width_policy: str = (
        "grey; resized to `height` keeping the aspect ratio (INTER_AREA down, INTER_LINEAR up); "
        "squeezed to `max_width` if wider, widened to `min_width` if narrower; "
        "left-aligned and padded on the right with 0 to the widest line of the batch "
        "(rounded up to `width_multiple`); the model takes any width"
    )
    normalisation: str = "(x - mean(x)) / max(std(x), std_floor), per crop, before padding"


class TrainingReport(_Strict):
    seed: int
    samples: int  # distinct rendered crops the model was trained on
    negatives: float  # share of training crops that hold no plate (label "")
    steps: int
    batch_size: int
    epochs: float  # passes over the distinct crops, each pass newly augmented
    generation_s: float
    training_s: float
    wall_time_s: float  # the whole run: rendering, training, export and validation
    renderer: str
    augmentation: str
    torch: str
    # fine-tuned from earlier weights (their SHA-256 and what they had seen), or None: from scratch
    initialised_from: str | None = None


class ValidationReport(_Strict):
    seed: int
    samples: int
    sequence_accuracy: float  # the best candidate equals the label
    character_error_rate: float
    per_format: dict[str, float]  # format name -> sequence accuracy


class DataSource(_Strict):
    """One source of training crops: rendered, or a real labelled set's tuning part."""

    name: str
    licence: str
    images: int  # rendered crops and scenes, or the real set's tuning-part images read
    crops: int  # crops trained on (real: those aligned with their label, held-back excluded)
    held_back: int = 0  # real crops of other plates kept out to choose the checkpoint


class RealValidation(_Strict):
    """Sequence accuracy on a real set's reporting part, read from the label's box: plates
    that were neither trained nor chosen on."""

    set: str
    crops: int
    sequence_accuracy: float
    character_error_rate: float
    previous_model: float | None = None  # the weights fine-tuned from, on the same crops


class PlateReaderInfo(_Strict):
    """The model's card, `plate_reader.json` beside `plate_reader.onnx`."""

    model: str
    architecture: str
    parameters: int
    charset: str  # class i + 1 is charset[i]
    blank_index: Literal[0] = 0
    output: str = "probabilities (batch, width / 4, len(charset) + 1), softmax over classes"
    confidence: str = (
        "probability of the whole text under the model, summed over its CTC alignments "
        "(prefix beam search), 0..1"
    )
    input: InputPolicy
    training: TrainingReport
    validation: ValidationReport
    data: list[DataSource] = []
    checkpoint: str = ""  # how the shipped weights were chosen among the run's checkpoints
    real_validation: list[RealValidation] = []


def grey(crop: Image) -> Image:
    """A grey image from a grey, BGR or BGRA crop."""
    if crop.ndim == 2:
        return crop
    if crop.ndim == 3 and crop.shape[2] == 1:
        return crop[:, :, 0]
    if crop.ndim == 3 and crop.shape[2] == 3:
        return np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), np.uint8)
    if crop.ndim == 3 and crop.shape[2] == 4:
        return np.asarray(cv2.cvtColor(crop, cv2.COLOR_BGRA2GRAY), np.uint8)
    raise ValueError(f"shape {crop.shape}: expected a grey (h, w) or BGR (h, w, 3) image")


def line_input(crop: Image, policy: InputPolicy) -> Line:
    """One crop as the model sees it, before padding: `policy.height` rows, normalised."""
    image = grey(crop)
    rows, cols = image.shape
    width = round(cols * policy.height / rows)
    width = min(policy.max_width, max(policy.min_width, width))
    shrink = rows > policy.height
    interpolation = cv2.INTER_AREA if shrink else cv2.INTER_LINEAR
    resized = cv2.resize(image, (width, policy.height), interpolation=interpolation)
    line = resized.astype(np.float32)
    spread = max(float(line.std()), policy.std_floor)
    return np.asarray((line - float(line.mean())) / spread, np.float32)


def batch_input(lines: Sequence[Line], policy: InputPolicy) -> npt.NDArray[np.float32]:
    """Lines padded on the right to one width, as an (n, 1, height, width) batch."""
    widest = max(line.shape[1] for line in lines)
    width = -(-widest // policy.width_multiple) * policy.width_multiple
    batch = np.zeros((len(lines), 1, policy.height, width), np.float32)
    for index, line in enumerate(lines):
        batch[index, 0, :, : line.shape[1]] = line
    return batch


def width_groups(widths: Sequence[int], spread: float = 1.3) -> list[list[int]]:
    """Indices of lines grouped so a group's widest is at most `spread` times its narrowest:
    each group is one session run with little padding."""
    groups: list[list[int]] = []
    for index in sorted(range(len(widths)), key=lambda i: widths[i]):
        if groups and widths[index] <= widths[groups[-1][0]] * spread:
            groups[-1].append(index)
        else:
            groups.append([index])
    return groups


def load_info(models: Path = MODELS) -> PlateReaderInfo:
    path = models / f"{MODEL_NAME}.json"
    return PlateReaderInfo.model_validate_json(path.read_text(encoding="utf-8"))


class PlateTextReader:
    """Reads plate text lines with the project's model: `read(crops)` gives up to `k` texts per
    crop, best first, each with the model's probability of that exact text.

    Raises FileNotFoundError when the model or its card is missing."""

    def __init__(self, models: Path = MODELS, *, k: int = 5, beam: int = 10) -> None:
        model = models / f"{MODEL_NAME}.onnx"
        if not model.is_file():
            raise FileNotFoundError(
                f"{model}: the plate reader model is missing; run `make train-plates`"
            )
        self.info = load_info(models)
        self.k = k
        self.beam = max(beam, k)
        self.alphabet = ["", *self.info.charset]
        self._session = session(model, threads=1)
        self._input = self._session.get_inputs()[0].name

    def read(self, crops: Sequence[Image], k: int | None = None) -> list[Candidates]:
        """Up to `k` (default the reader's) candidate texts for each grey or BGR uint8 crop,
        best first, with confidences in 0..1; an empty list where the model sees no text."""
        wanted = self.k if k is None else k
        lines = [self._line(index, crop) for index, crop in enumerate(crops)]
        results: list[Candidates] = [[] for _ in lines]
        for group in width_groups([line.shape[1] for line in lines]):
            batch = batch_input([lines[i] for i in group], self.info.input)
            probabilities = self._session.run(None, {self._input: batch})[0]
            for index, steps in zip(group, probabilities, strict=True):
                found = ctc_candidates(steps, self.alphabet, wanted + 1, self.beam)
                results[index] = [(text, p) for text, p in found if text][:wanted]
        return results

    def _line(self, index: int, crop: Image) -> Line:
        if crop.dtype != np.uint8 or crop.size == 0:
            raise ValueError(
                f"crops[{index}]: expected a non-empty uint8 image, got {crop.dtype} {crop.shape}"
            )
        try:
            return line_input(crop, self.info.input)
        except ValueError as error:
            raise ValueError(f"crops[{index}]: {error}") from None
