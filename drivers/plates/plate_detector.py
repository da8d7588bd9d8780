"""Where the plates are in a frame: the project's own small plate detector (trained by
scripts/train_plate_detector.py), run on onnxruntime with one thread.

The network sees the frame scaled so its long side is `max_side` pixels and gives, at a quarter
of that resolution, the probability that a pixel is in a plate's core: the plate's quad shrunk
about its centre by `shrink` (the card says by how much). A plate is a connected blob of core
pixels; its rotated box, grown back by the same ratio, is the plate's quad. Cores of two plates
side by side stay apart where whole plates would touch."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from drivers.plates.onnx_models import session
from drivers.plates.text_detector import BGR, Quad, ordered_corners

MODELS = Path(__file__).parent / "models"
MODEL_NAME = "plate_detector"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DetectorInput(_Strict):
    """How a frame becomes the model's input; the training script and the detector share it."""

    stride: int = 4  # the probability map is this many times smaller than the input
    shrink: float = 0.6  # the trained core is the plate's quad scaled about its centre by this
    layout: str = (
        "NCHW, BGR, x / 127.5 - 1; long side scaled to max_side (INTER_AREA), aspect kept, "
        "padded right and bottom with 0 to multiples of 32"
    )
    output: str = "probability (batch, 1, height / 4, width / 4): a pixel is in a plate's core"


class TrainingReport(_Strict):
    seed: int
    steps: int
    batch_size: int
    crop: int  # training crops are this many pixels square
    minutes: float
    wall_time_s: float
    sources: dict[str, int]  # data source -> how many frames, scenes or crops it gave
    sources_note: str
    augmentation: str
    torch: str


class ValidationReport(_Strict):
    """Figures of the shipped file on the held-out tuning data that chose the checkpoint."""

    seed: int  # of the rendered validation scenes
    plates: dict[str, int]  # validation set -> labelled plates in it
    recall_iou50: dict[str, float]
    recall_iou30: dict[str, float]
    boxes_per_frame: dict[str, float]


class PlateDetectorInfo(_Strict):
    """The model's card, `plate_detector.json` beside `plate_detector.onnx`."""

    model: str
    sha256: str  # of the .onnx file
    architecture: str
    parameters: int
    input: DetectorInput
    training: TrainingReport
    validation: ValidationReport


@dataclass(frozen=True)
class PlateBox:
    quad: Quad  # np.float32 (4, 2) frame pixels, clockwise from top-left
    score: float  # 0..1: the mean core probability of the plate's blob


@dataclass(frozen=True)
class PlateDetectorSettings:
    # the frame's long side is scaled to this: 1920x1080 to 960x540 (a fast, whole-number
    # shrink); a plate 80 px wide in it is 40 px at the input, in the trained range of 18 to 300
    max_side: int = 960
    threshold: float = 0.5  # a map pixel is plate core above this probability
    box_threshold: float = 0.5  # a blob is a plate when its mean probability is above this
    max_boxes: int = 10
    min_height: float = 8.0  # frame pixels; a plate lower than this cannot be read
    # map pixels a blob reaches past the trained core on each side (the map is soft at its
    # edges), taken off before the box is grown back; chosen with the thresholds on the
    # training script's validation frames (0.35 to 0.65 alike, 0 and 1 clearly worse)
    overshoot: float = 0.5


def load_info(models: Path = MODELS) -> PlateDetectorInfo:
    path = models / f"{MODEL_NAME}.json"
    return PlateDetectorInfo.model_validate_json(path.read_text(encoding="utf-8"))


def input_size(height: int, width: int, max_side: int) -> tuple[int, int]:
    """(width, height) the frame is scaled to: its long side `max_side` at most, the aspect
    kept (1920x1080 to 640x360, a whole-number ratio OpenCV shrinks fast)."""
    scale = min(1.0, max_side / max(height, width))
    return max(8, round(width * scale)), max(8, round(height * scale))


def frame_tensor(frame: BGR, size: tuple[int, int]) -> npt.NDArray[np.float32]:
    """The model's input: the frame scaled to `size`, normalised, padded on the right and at
    the bottom with 0 (mid grey) to multiples of 32."""
    small = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
    width, height = (-(-side // 32) * 32 for side in size)
    tensor = np.zeros((1, 3, height, width), np.float32)
    tensor[0, :, : size[1], : size[0]] = small.transpose(2, 0, 1) * (1 / 127.5) - 1
    return tensor


def blobs_to_boxes(
    probability: npt.NDArray[np.float32],
    settings: PlateDetectorSettings,
    info: DetectorInput,
    factor: tuple[float, float],
) -> list[PlateBox]:
    """Plate quads in frame pixels from a core probability map; `factor` is (x, y) frame
    pixels per input pixel."""
    binary = (probability > settings.threshold).astype(np.uint8)
    count, labels, stats, _ = cv2.connectedComponentsWithStats(binary, connectivity=8)
    scale = np.array(factor, np.float32) * info.stride
    found: list[PlateBox] = []
    for label in range(1, count):
        x, y, w, h = stats[label, :4]
        inside = labels[y : y + h, x : x + w] == label
        score = float(probability[y : y + h, x : x + w][inside].mean())
        if score < settings.box_threshold:
            continue
        rows, cols = np.nonzero(inside)
        # every map pixel's four corners: a blob one pixel thin still has an area
        corners = np.concatenate(
            [np.stack([cols + dx + x, rows + dy + y], 1) for dx in (0, 1) for dy in (0, 1)]
        ).astype(np.float32)
        (cx, cy), (bw, bh), angle = cv2.minAreaRect(corners)
        core = (max(bw - 2 * settings.overshoot, 1.0), max(bh - 2 * settings.overshoot, 1.0))
        grown = ((cx, cy), (core[0] / info.shrink, core[1] / info.shrink), angle)
        quad = np.asarray(cv2.boxPoints(grown), np.float32) * scale
        box = PlateBox(ordered_corners(quad), score)
        if _height(box.quad) >= settings.min_height:
            found.append(box)
    found.sort(key=lambda box: -box.score)
    return found[: settings.max_boxes]


class PlateDetector:
    """Finds every licence plate in a frame: `detect(frame)` gives their quads, best first.

    Raises FileNotFoundError when the model or its card is missing."""

    def __init__(self, models: Path = MODELS, settings: PlateDetectorSettings | None = None):
        model = models / f"{MODEL_NAME}.onnx"
        if not model.is_file():
            raise FileNotFoundError(
                f"{model}: the plate detector model is missing; run `make train-plates`"
            )
        self.info = load_info(models)
        self.settings = settings or PlateDetectorSettings()
        self._session = session(model, threads=1)
        self._input = self._session.get_inputs()[0].name

    def probability(self, frame: BGR) -> tuple[npt.NDArray[np.float32], tuple[float, float]]:
        """The core probability map of a frame, and (x, y) frame pixels per input pixel."""
        _check(frame)
        height, width = frame.shape[:2]
        size = input_size(height, width, self.settings.max_side)
        output = self._session.run(None, {self._input: frame_tensor(frame, size)})[0]
        return np.asarray(output[0, 0], np.float32), (width / size[0], height / size[1])

    def detect(self, frame: BGR) -> list[PlateBox]:
        """Every plate in the BGR uint8 frame, the surest first."""
        probability, factor = self.probability(frame)
        return blobs_to_boxes(probability, self.settings, self.info.input, factor)


def _check(frame: object) -> None:
    if (
        not isinstance(frame, np.ndarray)
        or frame.dtype != np.uint8
        or frame.ndim != 3
        or frame.shape[2] != 3
        or min(frame.shape[:2]) < 8
    ):
        described = f"{frame.dtype} {frame.shape}" if isinstance(frame, np.ndarray) else type(frame)
        raise ValueError(f"frame: expected a BGR uint8 image (h, w, 3), got {described}")


def _height(quad: Quad) -> float:
    return float(np.linalg.norm(quad[3] - quad[0]) + np.linalg.norm(quad[2] - quad[1])) / 2
