"""Texts from a CTC recogniser's per-step probabilities: a small prefix beam search, so each
candidate's confidence is the model's probability of that text summed over all its alignments.
Confidences of different texts (and of different recognisers) are then comparable."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Candidates: TypeAlias = list[tuple[str, float]]  # (text, probability), best first

_BLANK = 0
_SURE_BLANK = 0.995  # a step this sure of blank only extends every prefix with blank
_MIN_STEP_PROBABILITY = 0.005


def ctc_candidates(
    probabilities: npt.NDArray[np.float32], alphabet: Sequence[str], k: int = 5, beam: int = 10
) -> Candidates:
    """The `k` most probable texts for one line, from its (steps, classes) probabilities;
    class 0 is the blank."""
    beams: dict[tuple[int, ...], tuple[float, float]] = {(): (1.0, 0.0)}  # (ends blank, not)
    for step in probabilities:
        blank = float(step[_BLANK])
        if blank >= _SURE_BLANK:
            beams = {prefix: ((b + nb) * blank, 0.0) for prefix, (b, nb) in beams.items()}
            continue
        classes = np.flatnonzero(step >= _MIN_STEP_PROBABILITY)
        nxt: defaultdict[tuple[int, ...], list[float]] = defaultdict(lambda: [0.0, 0.0])
        for prefix, (b, nb) in beams.items():
            nxt[prefix][0] += (b + nb) * blank
            last = prefix[-1] if prefix else None
            for c in map(int, classes):
                if c == _BLANK:
                    continue
                p = float(step[c])
                if c == last:
                    nxt[prefix][1] += nb * p  # the same character held over a step
                    nxt[(*prefix, c)][1] += b * p  # a repeat needs a blank between
                else:
                    nxt[(*prefix, c)][1] += (b + nb) * p
        ranked = sorted(nxt.items(), key=lambda item: -(item[1][0] + item[1][1]))[:beam]
        beams = {prefix: (pb, pnb) for prefix, (pb, pnb) in ranked}
    texts: dict[str, float] = defaultdict(float)
    for prefix, (b, nb) in beams.items():
        texts["".join(alphabet[i] for i in prefix)] += b + nb
    ranked_texts = sorted(texts.items(), key=lambda item: -item[1])[:k]
    return [(text, min(1.0, p)) for text, p in ranked_texts]
