"""Lane cameras: capture from a device, an RTSP/HTTP URL or a file in a thread of its own,
keeping only the newest frame, and a presence trigger that hands frames to plate recognition
while a vehicle is in view."""

from drivers.camera.capture import Camera, CameraStats, Frame
from drivers.camera.config import CameraConfig, Source, TriggerConfig, parse_source
from drivers.camera.trigger import FrameSink, MotionDetector, PresenceTrigger, TriggerStats

__all__ = [
    "Camera",
    "CameraConfig",
    "CameraStats",
    "Frame",
    "FrameSink",
    "MotionDetector",
    "PresenceTrigger",
    "Source",
    "TriggerConfig",
    "TriggerStats",
    "parse_source",
]
