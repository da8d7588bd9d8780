"""Lane cameras: capture from a device, an RTSP/HTTP URL or a file in a thread of its own,
keeping only the newest frame, and a presence trigger that hands frames to plate recognition
while a vehicle is in view."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drivers.camera.config import CameraConfig, Source, TriggerConfig, parse_source

if TYPE_CHECKING:
    from drivers.camera.capture import Camera, CameraStats, Frame
    from drivers.camera.trigger import FrameSink, MotionDetector, PresenceTrigger, TriggerStats

# Capture and the trigger need OpenCV, which loads on first use: reading the config file (the
# CLI, `config check`) does not need it.
_LAZY = {
    "Camera": "capture", "CameraStats": "capture", "Frame": "capture",
    "FrameSink": "trigger", "MotionDetector": "trigger", "PresenceTrigger": "trigger",
    "TriggerStats": "trigger",
}  # fmt: skip


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"drivers.camera.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'drivers.camera' has no attribute {name!r}")


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
