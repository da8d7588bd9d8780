"""A vehicle's frames are voted on; the lane hears of the answer when it changes or firms up."""

from __future__ import annotations

import datetime as dt

from drivers.plates.camera_plates import CameraPlates
from drivers.plates.ranking import PlateGuess
from drivers.plates.recognizer import Candidate, FrameResult
from drivers.plates.voting import PlateVote
from edge.readings import PlateReading, Reading

T0 = dt.datetime(2026, 11, 28, 8, 0, tzinfo=dt.UTC)


def frame(*reads: tuple[str, float]) -> FrameResult:
    return FrameResult(
        tuple(
            Candidate(
                PlateGuess(text.replace(" ", ""), text, p, p, "KZ", "KZ"),
                (0, 0, 9, 9),
                text.encode(),
            )
            for text, p in reads
        )
    )


def test_one_bad_frame_does_not_outvote_the_others() -> None:
    vote = PlateVote()
    vote.add(frame(("777 ABC 02", 0.8)))
    vote.add(frame(("777 ABC 08", 0.95)))  # glare: one confident misread
    vote.add(frame(("777 ABC 02", 0.7), ("777 ABC 08", 0.2)))
    best, second = vote.ranked()[:2]
    assert best.candidate.guess.written == "777 ABC 02"
    assert best.support > second.support
    assert best.candidate.crop_jpeg == b"777 ABC 02"  # the crop of its best frame
    assert vote.frames == 3


def test_a_frame_with_nothing_read_dilutes_the_support() -> None:
    vote = PlateVote()
    vote.add(frame(("777 ABC 02", 0.8)))
    vote.add(frame())
    assert vote.ranked()[0].support == 0.4


class Lane:
    def __init__(self) -> None:
        self.readings: list[PlateReading] = []
        self.rejects: list[tuple[str, str]] = []

    def on_reading(self, reading: Reading) -> None:
        assert isinstance(reading, PlateReading)
        self.readings.append(reading)

    def on_reject(self, device: str, reason: str) -> None:
        self.rejects.append((device, reason))


def test_the_lane_hears_the_first_read_then_only_changes_and_firmer_answers() -> None:
    lane = Lane()
    plates = CameraPlates(lane.on_reading, lane.on_reject, positions={"cam-1": "tractor"})
    at = T0
    for reads in ([("777 ABC 02", 0.5)], [("777 ABC 02", 0.55)], [("777 ABC 02", 0.9)]):
        plates._on_result(("cam-1", at), frame(*reads), None)
        at += dt.timedelta(seconds=0.5)
    assert [r.frames for r in lane.readings] == [1, 3]  # frame 2 said nothing new
    last = lane.readings[-1]
    assert last.candidates[0].text == "777 ABC 02"
    assert last.candidates[0].country == "KZ"
    assert last.candidates[0].position == "tractor"
    assert last.crop_jpeg == b"777 ABC 02"


def test_a_gap_or_the_vehicle_leaving_starts_a_new_vote() -> None:
    lane = Lane()
    plates = CameraPlates(lane.on_reading, lane.on_reject, vehicle_gap_s=4.0)
    plates._on_result(("cam-1", T0), frame(("777 ABC 02", 0.9)), None)
    later = T0 + dt.timedelta(seconds=10)
    plates._on_result(("cam-1", later), frame(("01 123 ABC", 0.9)), None)
    assert [r.candidates[0].text for r in lane.readings] == ["777 ABC 02", "01 123 ABC"]
    assert lane.readings[-1].frames == 1  # the first truck's frame is not in the second's vote
    plates.vehicle_left("cam-1")
    plates._on_result(("cam-1", later), frame(("01 123 ABC", 0.9)), None)
    assert lane.readings[-1].frames == 1


def test_a_frame_the_recogniser_refused_is_a_reject_of_the_camera() -> None:
    lane = Lane()
    plates = CameraPlates(lane.on_reading, lane.on_reject)
    plates._on_result(("cam-1", T0), None, "ValueError: a frame must be BGR")
    assert lane.rejects == [("cam-1", "plate recognition: ValueError: a frame must be BGR")]
    assert lane.readings == []
