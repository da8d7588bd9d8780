"""The demo's lane cameras: trucks driven past a post's simulated camera
(`drivers.sim.live_lane`), and what the post made of them, read back from its log and its
store. The post reads them through its whole camera path: presence trigger, plate worker,
voting, the lane's arrival and the matcher."""

from __future__ import annotations

import datetime as dt
import itertools
import random
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine

from drivers.sim.live_lane import LiveLane
from edge.arrivals import Arrival, ArrivalStore
from edge.config import MatchingConfig
from edge.manifest import Manifest
from edge.plate_formats import match_formats
from edge.timeutil import utcnow

CAMERA_ID = "cam-1"
LANE = "1"
WAIT_S = 180.0  # generous: on a busy 2-core machine plate recognition may take seconds a frame
STAND_S = 2.0  # a truck stands at the booth this long after its first read: frames to vote on
GAP_S = 1.5  # the empty road between two trucks


def camera_device(url: str) -> str:
    """The post's `[[devices]]` table: a camera at lane 1 whose source is the live lane."""
    return f"""
[[devices]]
kind = "camera"
id = "{CAMERA_ID}"
lane = "{LANE}"
source = "{url}"
reconnect_initial_s = 0.5
reconnect_max_s = 2.0

[devices.trigger]
min_frames_present = 2
frames_absent_to_clear = 6
"""


def wait_until(condition: Callable[[], bool], what: str, timeout: float = WAIT_S) -> None:
    """Poll what another process makes true (its log, its store); fail naming `what`."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up after {timeout:.0f} s waiting for {what}")
        pause.wait(0.1)


def in_window(record: Manifest, settings: MatchingConfig, now: dt.datetime) -> bool:
    """Whether a truck of `record` arriving `now` is inside the record's arrival window."""
    early = dt.timedelta(hours=settings.early_hours)
    late = dt.timedelta(hours=settings.late_hours)
    return record.expected_arrival - early <= now <= record.expected_arrival + late


def camera_trucks(records: Sequence[Manifest], settings: MatchingConfig) -> list[Manifest]:
    """The records whose truck can drive up now: a plate of a known format, due about now."""
    now = utcnow()
    due = [r for r in records if match_formats(r.transport.plate) and in_window(r, settings, now)]
    return sorted(due, key=lambda r: abs((r.expected_arrival - now).total_seconds()))


@dataclass(frozen=True)
class CameraOutcome:
    record: Manifest
    arrival: Arrival
    read: str  # the best read, as the officer sees it
    first_read_s: float  # from the truck's arrival to the first reading at the lane

    @property
    def matched(self) -> bool:
        return self.arrival.best_ref == self.record.ref


class PostLane:
    """A post's lane 1: its live camera, and what the post wrote about it."""

    def __init__(self, node_id: str, engine: Engine, log_path: Path, camera: LiveLane) -> None:
        self.node_id = node_id
        self.arrivals = ArrivalStore(engine)
        self.log_path = log_path
        self.camera = camera

    def _log(self) -> bytes:
        return self.log_path.read_bytes() if self.log_path.exists() else b""

    def ready(self) -> bool:
        """The camera streams and the plate reader has loaded its models."""
        log = self._log()
        return all(
            f"device.health device={device} health=connected".encode() in log
            for device in (CAMERA_ID, "plate-reader")
        )

    def left(self) -> int:
        """How many times the trigger has seen a vehicle leave."""
        return self._log().count(f"camera.presence device={CAMERA_ID} present=False".encode())

    def open_arrival(self) -> Arrival | None:
        arrival_id = self.arrivals.open_for_lane(LANE)
        return None if arrival_id is None else self.arrivals.get(arrival_id)

    def close_open(self, reason: str) -> None:
        """Close what is open at the lane, as an officer's decision would."""
        while (arrival_id := self.arrivals.open_for_lane(LANE)) is not None:
            self.arrivals.close(arrival_id, reason, utcnow())

    def arrive(self, record: Manifest, rng: random.Random, strength: float) -> None:
        plate = record.transport.plate
        self.camera.arrive(plate, match_formats(plate)[0], rng, strength=strength)


def plate_read(arrival: Arrival) -> str | None:
    """The best text of the arrival's latest plate reading."""
    plates = [r for r in arrival.readings if r.kind == "plate"]
    if not plates:
        return None
    candidates = plates[-1].data.get("candidates")
    if not isinstance(candidates, list) or not candidates:
        return None
    return str(candidates[0].get("text", ""))


def drive_through(
    lane: PostLane, record: Manifest, rng: random.Random, strength: float
) -> CameraOutcome:
    """One truck past the camera, as a new user would watch it at the booth: it drives up, is
    read, stands a moment, drives on; then its arrival is closed as a decision would, so that
    the next truck opens an arrival of its own."""
    pause = threading.Event()
    pause.wait(GAP_S)  # the empty road between trucks: the lane's pace, not a synchronisation
    lane.close_open("demo")  # a late read of the truck before, if any
    left = lane.left()
    start = time.monotonic()
    lane.arrive(record, rng, strength)
    plate = record.transport.plate

    def read() -> bool:
        arrival = lane.open_arrival()
        return arrival is not None and plate_read(arrival) is not None

    wait_until(read, f"{lane.node_id} to read the plate {plate}")
    first_read_s = time.monotonic() - start
    pause.wait(STAND_S)
    lane.camera.depart()
    wait_until(lambda: lane.left() > left, f"{lane.node_id}'s camera to see {plate} leave")
    arrival = lane.open_arrival()
    if arrival is None:  # only this demo closes arrivals at the lane, and it has not yet
        raise RuntimeError(f"{lane.node_id}: the arrival of {plate} closed by itself")
    return CameraOutcome(record, arrival, plate_read(arrival) or "-", first_read_s)


class LiveTraffic:
    """While the demo serves: trucks keep coming to a post's lane at a slow pace. The next one
    drives up `pace_s` after the last one drove on, and only once the lane is free (an officer
    decided on the truck before, at the kiosk); each stands until it has been read."""

    def __init__(
        self,
        lane: PostLane,
        trucks: Sequence[Manifest],
        rng: random.Random,
        *,
        pace_s: float,
        kiosk_url: str,
        say: Callable[[str], None],
    ) -> None:
        self.lane = lane
        self.trucks = itertools.cycle(trucks) if trucks else None
        self.rng = rng
        self.pace_s = pace_s
        self.kiosk_url = kiosk_url
        self.say = say
        self.state = "free"  # free: no truck in view; then arriving; then standing
        self.since = 0.0
        self.next_at = 0.0
        self.told_busy = False
        self.plate = ""

    def step(self) -> None:
        """Move the lane on by what is due now; call it every fraction of a second."""
        now = time.monotonic()
        if self.state == "free" and now >= self.next_at and self.trucks is not None:
            self._drive_up(now)
        elif self.state == "arriving":
            arrival = self.lane.open_arrival()
            read = plate_read(arrival) if arrival is not None else None
            if read is not None or now - self.since > WAIT_S:
                ref = arrival.best_ref if arrival is not None and arrival.best_ref else "no record"
                where = f"{self.kiosk_url}arrivals/{arrival.id}" if arrival else self.kiosk_url
                self.say(f"{self.plate} read as {read or '(nothing)'} -> {ref}; decide at {where}")
                self.state, self.since = "standing", now
        elif self.state == "standing" and now - self.since >= STAND_S:
            self.lane.camera.depart()
            self.state, self.next_at = "free", now + self.pace_s

    def _drive_up(self, now: float) -> None:
        if self.lane.open_arrival() is not None:
            if not self.told_busy:
                self.say(f"the next truck waits until an officer decides at {self.kiosk_url}")
                self.told_busy = True
            return
        assert self.trucks is not None
        record = next(self.trucks)
        self.plate = record.transport.plate
        self.lane.arrive(record, self.rng, self.rng.uniform(0.0, 0.5))
        self.say(f"truck {self.plate} drives up (record {record.ref})")
        self.state, self.since, self.told_busy = "arriving", now, False
