"""What a camera is in the config file: where its frames come from, how fast to take them,
and when its trigger says a vehicle is in view."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from drivers.device_config import DeviceConfigBase

Fraction = Annotated[float, Field(gt=0.0, le=1.0)]
Offset = Annotated[float, Field(ge=0.0, lt=1.0)]


class TriggerConfig(BaseModel):
    """Background difference on a small grey copy of each frame, with hysteresis."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = True
    # A frame counts as "vehicle in view" when this fraction of the view differs from the road.
    threshold: Fraction = 0.04
    # ... and as "empty" again below this fraction (default: half the threshold).
    clear_threshold: Fraction | None = None
    min_frames_present: Annotated[int, Field(ge=1)] = 3
    frames_absent_to_clear: Annotated[int, Field(ge=1)] = 10
    # Grey levels (0-255) a pixel must differ from the background by to count as changed.
    pixel_delta: Annotated[int, Field(ge=1, le=254)] = 25
    # The width frames are scaled down to before analysis; cost grows with its square.
    analysis_width: Annotated[int, Field(ge=32, le=1920)] = 160
    # How fast the background follows the empty road (light, shadows): 0..1 per frame.
    learning_rate: Fraction = 0.05
    # Frames after which whatever stays in view becomes background (a parked car, a new sign).
    relearn_frames: Annotated[int, Field(ge=10)] = 1500
    # The part of the frame to watch, as fractions of its size: x, y, width, height.
    roi: tuple[Offset, Offset, Fraction, Fraction] | None = None
    # Frames handed to plate recognition per second while a vehicle is in view.
    sink_fps: Annotated[float, Field(gt=0.0, le=60.0)] = 2.0

    @model_validator(mode="after")
    def _consistent(self) -> TriggerConfig:
        if self.clear_threshold is not None and self.clear_threshold > self.threshold:
            raise ValueError(
                f"trigger.clear_threshold ({self.clear_threshold}) is above trigger.threshold "
                f"({self.threshold}); set it at or below, e.g. {self.threshold / 2:g}"
            )
        if self.roi is not None:
            x, y, width, height = self.roi
            if x + width > 1.0 or y + height > 1.0:
                raise ValueError(
                    f"trigger.roi {self.roi} reaches outside the frame; "
                    "keep x + width and y + height at most 1"
                )
        return self

    @property
    def leave_threshold(self) -> float:
        return self.threshold / 2 if self.clear_threshold is None else self.clear_threshold


class CameraConfig(DeviceConfigBase):
    kind: Literal["camera"] = "camera"
    # A device index ("0"), a device node ("/dev/video0"), an rtsp:// or http(s):// URL, or a
    # video file (or an image sequence pattern such as frames/%05d.jpg).
    source: Annotated[str, Field(min_length=1)]
    # Frames taken per second at most; a file plays at its own rate when this is unset.
    fps_limit: Annotated[float, Field(gt=0.0, le=240.0)] | None = None
    # A file that ends starts again; without loop the camera reports it gone and retries.
    loop: bool = False
    position: Literal["front", "rear"] = "front"
    # How long to wait for a network camera to answer, and for each frame from it.
    open_timeout_s: Annotated[float, Field(gt=0.0, le=120.0)] = 10.0
    read_timeout_s: Annotated[float, Field(gt=0.0, le=120.0)] = 5.0
    rtsp_transport: Literal["tcp", "udp"] = "tcp"
    # Reconnect delays: first, and at most.
    reconnect_initial_s: Annotated[float, Field(gt=0.0)] = 0.5
    reconnect_max_s: Annotated[float, Field(gt=0.0)] = 30.0
    trigger: TriggerConfig = TriggerConfig()

    @model_validator(mode="after")
    def _known_source(self) -> CameraConfig:
        parse_source(self.source)  # raises with the fix
        return self


SourceKind = Literal["device", "stream", "file"]


@dataclass(frozen=True)
class Source:
    kind: SourceKind
    target: int | str  # what cv2.VideoCapture opens

    @property
    def live(self) -> bool:
        """Frames come as the world happens, not as fast as they are read."""
        return self.kind != "file"


_STREAM_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "udp://", "tcp://")


def parse_source(text: str) -> Source:
    text = text.strip()
    if text.isdigit():
        return Source("device", int(text))
    if text.startswith("/dev/"):
        return Source("device", text)
    if "://" in text:
        if not text.lower().startswith(_STREAM_SCHEMES):
            scheme = text.split("://", 1)[0]
            raise ValueError(
                f"source {text!r}: OpenCV cannot open {scheme}:// here; use rtsp://, http(s)://, "
                "a device index such as 0, /dev/video0 or a file path"
            )
        return Source("stream", text)
    if not text:
        raise ValueError("source is empty; give a device index, a URL or a file path")
    return Source("file", text)
