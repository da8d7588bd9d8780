"""The typed readings devices produce (made by drivers, used by the core): what was read, by
which device, when (UTC). They live in the core so that arrivals and matching can use them."""

from __future__ import annotations

import base64
import datetime as dt
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class Health(StrEnum):
    CONNECTED = "connected"
    DEGRADED = "degraded"  # connected, but dropping or rejecting input
    DISCONNECTED = "disconnected"


@dataclass(frozen=True)
class Reading:
    device: str  # the device id from the config
    at: dt.datetime  # UTC

    @property
    def kind(self) -> str:
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind, "device": self.device}
        out["at"] = self.at.isoformat().replace("+00:00", "Z")
        return out


@dataclass(frozen=True)
class BarcodeRead(Reading):
    text: str
    symbology: str | None = None  # e.g. "code128", "qr", from the AIM identifier or decoder
    aim_id: str | None = None  # "]C0", as the scanner sent it
    decoder: str | None = None  # for codes read from images: "zbar" or "zxing-cpp"
    payload: dict[str, Any] = field(default_factory=dict)  # parsed: transit ref, seal id, ...

    @property
    def kind(self) -> str:
        return "barcode"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict() | {"text": self.text, "symbology": self.symbology}
        if self.aim_id:
            out["aim_id"] = self.aim_id
        if self.decoder:
            out["decoder"] = self.decoder
        if self.payload:
            out["payload"] = self.payload
        return out


@dataclass(frozen=True)
class DocumentRead(Reading):
    """An identity document's MRZ, parsed; an invalid one is reported, never dropped."""

    mrz: dict[str, Any]  # the parsed MRZ as drivers.mrz gives it (to_dict of its result)
    valid: bool
    failed_checks: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return "document"

    @property
    def document_number(self) -> str | None:
        number = self.mrz.get("document_number")
        return str(number) if number else None

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "valid": self.valid,
            "failed_checks": list(self.failed_checks),
            "mrz": self.mrz,
        }


class SealState(StrEnum):
    SEALED = "sealed"
    OPENED = "opened"
    TAMPERED = "tampered"


@dataclass(frozen=True)
class SealRead(Reading):
    seal_id: str  # manufacturer + serial for electronic seals; the printed id for mechanical
    electronic: bool
    state: SealState | None = None
    battery_low: bool = False
    events: tuple[tuple[str, dt.datetime], ...] = ()  # (state, when) as the seal logged them

    @property
    def kind(self) -> str:
        return "seal"

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {
            "seal_id": self.seal_id,
            "electronic": self.electronic,
            "state": self.state.value if self.state else None,
            "battery_low": self.battery_low,
            "events": [
                {"state": s, "at": t.isoformat().replace("+00:00", "Z")} for s, t in self.events
            ],
        }


@dataclass(frozen=True)
class PresenceChange(Reading):
    """A camera's trigger: a vehicle came into (or left) the lane's view."""

    present: bool

    @property
    def kind(self) -> str:
        return "presence"

    def to_dict(self) -> dict[str, Any]:
        return super().to_dict() | {"present": self.present}


@dataclass(frozen=True)
class PlateCandidate:
    text: str
    confidence: float  # 0..1
    position: str | None = None  # "tractor" (front camera) or "trailer" (rear camera)
    country: str | None = None  # ISO alpha-2, when the plate's format tells it


@dataclass(frozen=True)
class PlateReading(Reading):
    """What plate recognition made of a vehicle: several candidates, best first."""

    candidates: tuple[PlateCandidate, ...]
    crop_jpeg: bytes | None = None  # the plate as the camera saw it, rectified, for the officer
    frames: int = 1  # how many frames of the vehicle were combined into these candidates

    @property
    def kind(self) -> str:
        return "plate"

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict() | {
            "candidates": [
                {
                    "text": c.text,
                    "confidence": c.confidence,
                    "position": c.position,
                    "country": c.country,
                }
                for c in self.candidates
            ],
            "frames": self.frames,
        }
        if self.crop_jpeg:
            out["crop_jpeg"] = base64.b64encode(self.crop_jpeg).decode("ascii")
        return out


def _time(value: Any) -> dt.datetime:
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def reading_from_dict(data: dict[str, Any]) -> Reading:
    """The reading `Reading.to_dict` wrote (as stored with an arrival)."""
    kind, device, at = data["kind"], str(data["device"]), _time(data["at"])
    if kind == "barcode":
        return BarcodeRead(
            device, at, data["text"], data.get("symbology"), data.get("aim_id"),
            data.get("decoder"), dict(data.get("payload") or {}),
        )  # fmt: skip
    if kind == "document":
        return DocumentRead(
            device, at, dict(data["mrz"]), bool(data["valid"]), tuple(data["failed_checks"])
        )
    if kind == "seal":
        state = SealState(data["state"]) if data.get("state") else None
        events = tuple((str(e["state"]), _time(e["at"])) for e in data.get("events", ()))
        return SealRead(
            device,
            at,
            data["seal_id"],
            bool(data["electronic"]),
            state,
            bool(data["battery_low"]),
            events,
        )
    if kind == "presence":
        return PresenceChange(device, at, bool(data["present"]))
    if kind == "plate":
        candidates = tuple(
            PlateCandidate(c["text"], float(c["confidence"]), c.get("position"), c.get("country"))
            for c in data["candidates"]
        )
        crop = base64.b64decode(data["crop_jpeg"]) if data.get("crop_jpeg") else None
        return PlateReading(device, at, candidates, crop, int(data.get("frames", 1)))
    raise ValueError(f"unknown reading kind {kind!r}")
