"""Scenario files for the emulators: which devices exist, with which line faults, and what
happens when (at t seconds: this code is scanned, this passport swiped, this seal read, this
cable pulled). TOML, checked like the config file:

    [[device]]
    id = "scanner-1"
    kind = "barcode"
    faults = { noise = 0.1, split = 0.5 }

    [[event]]
    at = 0.5
    device = "scanner-1"
    scan = "XA81234567"
    symbology = "pdf417"

    [[event]]
    at = 2.0
    device = "scanner-1"
    unplug_for = 1.5

    [[event]]
    at = 3.0
    device = "eseal-1"
    seal = { id = "0A1F-0012D687", state = "tampered", battery_low = true }

    [[event]]           # wait for Enter on `sim run`'s stdin
    at = 4.0
    device = "scanner-1"
    pause = true
"""

from __future__ import annotations

import random
import threading
import time
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from drivers.sim.barcode import BarcodeScannerEmulator
from drivers.sim.eseal import ESealReaderEmulator

if TYPE_CHECKING:
    from drivers.sim.camera import MjpegServer
from drivers.sim.faults import Faults
from drivers.sim.mrz_reader import MrzReaderEmulator
from drivers.sim.pty_port import PtyPort
from edge.manifest import describe_validation_error
from edge.readings import SealState


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SimDevice(_Model):
    id: Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]{1,64}$")]
    kind: Literal["barcode", "mrz", "eseal", "camera"]
    faults: Faults = Faults()
    prefix: str = ""  # barcode scanners only
    suffix: str = ""
    # Cameras: the trucks that pass, by plate, rendered into a video file (<id>.avi) or, with
    # `stream`, served as an MJPEG stream on 127.0.0.1; the camera driver opens either.
    plates: list[str] = Field(default_factory=list)
    stream: bool = False
    fps: Annotated[float, Field(gt=0, le=30)] = 10.0


class SimSeal(_Model):
    id: Annotated[str, Field(pattern=r"^[0-9A-Fa-f]{4}-[0-9A-Fa-f]{8}$")]  # MMMM-SSSSSSSS
    state: SealState = SealState.SEALED
    battery_low: bool = False


class SimEvent(_Model):
    at: Annotated[float, Field(ge=0)]
    device: str
    scan: str | None = None  # barcode scanners
    symbology: str = "code128"
    mrz: Annotated[list[str], Field(min_length=2, max_length=3)] | None = None  # MRZ readers
    seal: SimSeal | None = None  # e-seal readers
    unplug_for: Annotated[float, Field(gt=0)] | None = None  # any device: pull the cable
    # Wait here until resumed (a line on stdin with `sim run`); the pause does not count in `at`.
    pause: bool = False

    @model_validator(mode="after")
    def _one_action(self) -> SimEvent:
        actions = [a for a in (self.scan, self.mrz, self.seal, self.unplug_for) if a is not None]
        if len(actions) + self.pause != 1:
            raise ValueError("an event does exactly one of scan, mrz, seal, unplug_for, pause")
        return self


class Scenario(_Model):
    seed: int = 1
    device: Annotated[list[SimDevice], Field(min_length=1)]
    event: list[SimEvent] = Field(default_factory=list)

    @model_validator(mode="after")
    def _known_devices(self) -> Scenario:
        kinds = {d.id: d.kind for d in self.device}
        for index, event in enumerate(self.event):
            kind = kinds.get(event.device)
            if kind is None:
                raise ValueError(f"event[{index}].device: no device {event.device!r}")
            if (
                (event.scan is not None and kind != "barcode")
                or (event.mrz and kind != "mrz")
                or (event.seal and kind != "eseal")
            ):
                raise ValueError(f"event[{index}]: a {kind} device cannot do that")
            if kind == "camera" and not event.pause:
                raise ValueError(f"event[{index}]: a camera plays its plates; it takes no events")
        return self


class ScenarioError(ValueError):
    pass


def load_scenario(path: Path) -> Scenario:
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
        return Scenario.model_validate(data)
    except OSError as error:
        raise ScenarioError(f"{path}: cannot read: {error.strerror}") from None
    except tomllib.TOMLDecodeError as error:
        raise ScenarioError(f"{path}: not valid TOML: {error}") from None
    except ValidationError as error:
        raise ScenarioError(f"{path}: " + "; ".join(describe_validation_error(error))) from None


Emulator = BarcodeScannerEmulator | MrzReaderEmulator | ESealReaderEmulator


class ScenarioRun:
    """The scenario's emulators on real ptys under `directory`, and its events played in time."""

    def __init__(self, scenario: Scenario, directory: Path) -> None:
        self.scenario = scenario
        self.rng = random.Random(scenario.seed)
        self.ports: dict[str, PtyPort] = {}
        self.emulators: dict[str, Emulator] = {}
        self.cameras: dict[str, str] = {}  # camera id -> the file or URL to open
        self._streams: list[MjpegServer] = []  # camera streams to stop
        for device in scenario.device:
            if device.kind == "camera":
                self.cameras[device.id] = self._camera(device, directory)
                continue
            port = PtyPort(directory / f"{device.id}.tty")
            port.plug()
            self.ports[device.id] = port
            self.emulators[device.id] = self._emulator(device, port)
        self._stop = threading.Event()

    def _camera(self, device: SimDevice, directory: Path) -> str:
        # OpenCV and the renderer load only for scenarios with cameras.
        from drivers.sim.camera import lane_sequence, render_sequence, serve_mjpeg, write_video

        video = write_video(directory / f"{device.id}.avi", device.plates, fps=device.fps)
        if not device.stream:
            return str(video)
        steps = lane_sequence(device.plates, fps=device.fps, seconds_per_truck=4.0)
        server = serve_mjpeg(list(render_sequence(steps)), fps=device.fps)
        self._streams.append(server)
        return server.url

    def source(self, device_id: str) -> str:
        """Where the driver finds the device: a pty path, a video file or a stream URL."""
        if device_id in self.cameras:
            return self.cameras[device_id]
        return str(self.ports[device_id].path)

    def _emulator(self, device: SimDevice, port: PtyPort) -> Emulator:
        rng = random.Random(self.rng.random())
        if device.kind == "barcode":
            return BarcodeScannerEmulator(
                port, prefix=device.prefix, suffix=device.suffix, faults=device.faults, rng=rng
            )
        if device.kind == "eseal":
            return ESealReaderEmulator(port, faults=device.faults, rng=rng).start()
        return MrzReaderEmulator(port, faults=device.faults, rng=rng)

    def play(
        self,
        on_event: Callable[[SimEvent], None] | None = None,
        resume: Callable[[], None] | None = None,
    ) -> None:
        """Play the events in time order; returns after the last one (or when stopped).
        A pause event calls `resume`, which returns when the scenario may go on."""
        start = time.monotonic()
        replugs: list[tuple[float, str]] = []
        for event in sorted(self.scenario.event, key=lambda e: e.at):
            due = start + event.at
            while replugs and replugs[0][0] <= due:
                when, device_id = replugs.pop(0)
                if self._stop.wait(max(0.0, when - time.monotonic())):
                    return
                self.ports[device_id].plug()
            if self._stop.wait(max(0.0, due - time.monotonic())):  # the scenario's clock
                return
            if event.pause:
                paused = time.monotonic()
                if resume:
                    resume()
                start += time.monotonic() - paused
            self._apply(event, replugs)
            if on_event:
                on_event(event)
        for when, device_id in replugs:
            if self._stop.wait(max(0.0, when - time.monotonic())):
                return
            self.ports[device_id].plug()

    def _apply(self, event: SimEvent, replugs: list[tuple[float, str]]) -> None:
        if event.device in self.cameras:
            return  # a pause named on a camera
        emulator = self.emulators[event.device]
        port = self.ports[event.device]
        if event.unplug_for is not None:
            port.unplug()
            replugs.append((time.monotonic() + event.unplug_for, event.device))
            replugs.sort()
        elif event.pause or not port.plugged:
            return  # the cable is out: what the device read is lost, as on a real lane
        elif event.scan is not None and isinstance(emulator, BarcodeScannerEmulator):
            emulator.scan(event.scan, event.symbology)
        elif event.mrz is not None and isinstance(emulator, MrzReaderEmulator):
            emulator.swipe(event.mrz)
        elif event.seal is not None and isinstance(emulator, ESealReaderEmulator):
            emulator.report(event.seal.id.upper(), event.seal.state, event.seal.battery_low)

    def stop(self) -> None:
        self._stop.set()

    def close(self) -> None:
        for emulator in self.emulators.values():
            if isinstance(emulator, ESealReaderEmulator):
                emulator.stop()
        for port in self.ports.values():
            port.close()
        for server in self._streams:
            server.stop()
