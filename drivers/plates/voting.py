"""Candidates of consecutive frames of one vehicle, combined: a text's support is its mean
score over every frame of the vehicle, so one bad frame (motion blur, a wiper, glare) cannot
outvote the others, and a text read in every frame beats one read brilliantly once. Its
confidence is likewise the readers' mean probability of it over the frames."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from drivers.plates.recognizer import Candidate, FrameResult


@dataclass
class PlateVote:
    k: int = 5
    frames: int = 0
    _support: dict[str, float] = field(default_factory=dict)
    _confidence: dict[str, float] = field(default_factory=dict)
    _best: dict[str, Candidate] = field(default_factory=dict)  # its best-scored frame

    def add(self, result: FrameResult) -> None:
        self.frames += 1
        for candidate in result.candidates:
            guess = candidate.guess
            self._support[guess.key] = self._support.get(guess.key, 0.0) + guess.score
            self._confidence[guess.key] = self._confidence.get(guess.key, 0.0) + guess.confidence
            kept = self._best.get(guess.key)
            if kept is None or guess.score > kept.guess.score:
                self._best[guess.key] = candidate

    def ranked(self) -> list[Voted]:
        """The best `k` texts, best first."""
        if not self.frames:
            return []
        order = sorted(self._support.items(), key=lambda item: -item[1])[: self.k]
        return [
            Voted(self._best[key], support / self.frames, self._confidence[key] / self.frames)
            for key, support in order
        ]


class Voted(NamedTuple):
    candidate: Candidate  # as read in its best frame, with that frame's crop
    support: float  # mean score over the vehicle's frames
    confidence: float  # mean probability over the vehicle's frames
