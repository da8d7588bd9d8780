"""Frames from the lane cameras to plate readings: each frame the presence trigger hands over
goes to the recognition worker; the results of one vehicle's frames are voted on, and a
PlateReading goes to the lane whenever the vote's answer changes or firms up, so the officer
sees a first read within a second of the truck stopping and a better one as frames add up.

A vehicle's frames are those of one camera with no gap longer than `vehicle_gap_s` between
them; the trigger's "vehicle left" ends a vote at once."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import cast

from drivers.camera.capture import Frame
from drivers.plates.recognizer import FrameResult, RecognizerSettings
from drivers.plates.voting import PlateVote
from drivers.plates.worker import PlateWorker
from edge.readings import Health, PlateCandidate, PlateReading, Reading

FIRMER_BY = 0.1  # a new reading when the best text's support grew this much


@dataclass
class _Vehicle:
    vote: PlateVote
    last_frame_at: dt.datetime
    sent: tuple[str, float] | None = None  # the best text and its support last reported


class CameraPlates:
    def __init__(
        self,
        on_reading: Callable[[Reading], None],
        on_reject: Callable[[str, str], None],
        on_health: Callable[[Health, str], None] | None = None,
        *,
        positions: dict[str, str] | None = None,  # camera id -> "tractor" | "trailer"
        settings: RecognizerSettings | None = None,
        vehicle_gap_s: float = 4.0,
    ) -> None:
        self.on_reading = on_reading
        self.on_reject = on_reject
        self.positions = positions or {}
        self.vehicle_gap = dt.timedelta(seconds=vehicle_gap_s)
        self.worker = PlateWorker(self._on_result, settings, on_health)
        self._vehicles: dict[str, _Vehicle] = {}
        self._lock = threading.Lock()

    @property
    def device_id(self) -> str:
        return "plate-reader"

    @property
    def health(self) -> Health:
        return self.worker.health

    def start(self) -> None:
        self.worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self.worker.stop(timeout)

    def on_frame(self, frame: Frame) -> None:  # the trigger's thread
        self.worker.submit(frame.image, (frame.device, frame.at))

    def vehicle_left(self, device: str) -> None:
        with self._lock:
            self._vehicles.pop(device, None)

    def _on_result(self, tag: object, result: FrameResult | None, error: str | None) -> None:
        device, at = cast(tuple[str, dt.datetime], tag)
        if result is None:
            self.on_reject(device, f"plate recognition: {error}")
            return
        with self._lock:
            vehicle = self._vehicles.get(device)
            if vehicle is None or at - vehicle.last_frame_at > self.vehicle_gap:
                vehicle = self._vehicles[device] = _Vehicle(PlateVote(), at)
            vehicle.vote.add(result)
            vehicle.last_frame_at = at
            ranked = vehicle.vote.ranked()
            if not ranked:
                return
            best, support = ranked[0].candidate.guess.key, ranked[0].support
            sent = vehicle.sent
            if sent is not None and sent[0] == best and support < sent[1] + FIRMER_BY:
                return
            vehicle.sent = (best, support)
            frames = vehicle.vote.frames
        position = self.positions.get(device)
        reading = PlateReading(
            device,
            at,
            tuple(
                PlateCandidate(
                    v.candidate.guess.written,
                    round(v.confidence, 4),
                    position,
                    v.candidate.guess.country,
                )
                for v in ranked
            ),
            ranked[0].candidate.crop_jpeg or None,
            frames,
        )
        self.on_reading(reading)
