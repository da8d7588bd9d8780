"""PP-OCR's text-line recogniser (the model inside the rapidocr wheel): Latin letters, digits
and Chinese characters, trained on real photographs. It cannot read Cyrillic; the project's own
plate reader covers that."""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
import numpy.typing as npt

from drivers.plates.ctc import Candidates, ctc_candidates
from drivers.plates.onnx_models import PPOCR_RECOGNISER, ppocr_model, session

HEIGHT = 48


class PpocrReader:
    def __init__(self) -> None:
        self._session = session(ppocr_model(PPOCR_RECOGNISER))
        self._input = self._session.get_inputs()[0].name
        metadata = self._session.get_modelmeta().custom_metadata_map
        # index 0 is CTC's blank; the model's dictionary follows, then a space
        self.alphabet = ["", *metadata["character"].splitlines(), " "]

    def read(self, crops: Sequence[npt.NDArray[np.uint8]], k: int = 5) -> list[Candidates]:
        """Up to `k` texts for each BGR line crop, best first. One crop a run: a batch is
        padded to its widest line, and a two-line plate side by side is three times as wide
        as a caption, so batching would cost more than it saves on one core."""
        return [self._read_one(crop, k) for crop in crops]

    def _read_one(self, crop: npt.NDArray[np.uint8], k: int) -> Candidates:
        width = max(8, int(np.ceil(HEIGHT * crop.shape[1] / max(1, crop.shape[0]))))
        line = cv2.resize(_bgr(crop), (width, HEIGHT), interpolation=cv2.INTER_LINEAR)
        tensor = (line.astype(np.float32) * (2 / 255) - 1).transpose(2, 0, 1)[None]
        probabilities = self._session.run(None, {self._input: tensor})[0]
        return ctc_candidates(probabilities[0], self.alphabet, k)


def _bgr(crop: npt.NDArray[np.uint8]) -> npt.NDArray[np.uint8]:
    if crop.ndim == 2:
        return cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)  # type: ignore[return-value]
    return crop
