"""Barcode / 2D scanners in serial mode: each scan is a line, optionally wrapped in a
configured prefix and suffix, optionally led by an AIM symbology identifier (`]C0`)."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, field_validator

from drivers.codes import parse_payload
from drivers.device_config import SerialConfigBase
from drivers.protocol import LineBuffer, Protocol, ProtocolOutput
from edge.readings import BarcodeRead
from edge.timeutil import utcnow

# AIM symbology identifiers (ISO/IEC 15424): the code character after "]".
AIM_SYMBOLOGIES = {
    "A": "code39", "C": "code128", "E": "ean", "F": "codabar", "G": "code93", "I": "itf",
    "L": "pdf417", "d": "datamatrix", "Q": "qr", "z": "aztec", "e": "gs1-databar",
    "X": "other", "H": "code11", "M": "msi", "S": "2of5",
}  # fmt: skip

MAX_SCAN_BYTES = 4096
_STX, _ETX = b"\x02", b"\x03"
_TERMINATORS = {"cr": (b"\r",), "lf": (b"\n",), "crlf": (b"\r\n",), "any": (b"\r\n", b"\r", b"\n")}


class BarcodeScannerConfig(SerialConfigBase):
    kind: Literal["barcode"] = "barcode"
    prefix: str = ""
    suffix: str = ""
    terminator: Literal["cr", "lf", "crlf", "any"] = "any"
    encoding: Literal["utf-8", "latin-1"] = "utf-8"
    # Whether the scanner is set to send AIM identifiers; "auto" takes them when they appear.
    aim: Literal["auto", "on", "off"] = "auto"
    max_length: Annotated[int, Field(gt=0, le=MAX_SCAN_BYTES)] = MAX_SCAN_BYTES
    # Regular expressions of the seal ids this post's seals carry (mechanical seals are read
    # as barcodes), e.g. "KZC\\d{7}"; a scan that fits one is reported as a seal.
    seal_patterns: tuple[str, ...] = ()

    @field_validator("seal_patterns")
    @classmethod
    def _compiles(cls, patterns: tuple[str, ...]) -> tuple[str, ...]:
        for pattern in patterns:
            try:
                re.compile(pattern)
            except re.error as error:
                raise ValueError(f"{pattern!r} is not a regular expression: {error}") from None
        return patterns


def _payload(text: str, symbology: str | None, seals: tuple[str, ...]) -> dict[str, object]:
    payload = parse_payload(text, symbology, seal_patterns=seals)
    return payload.to_dict() if payload else {}


def split_aim(text: str) -> tuple[str | None, str | None, str]:
    """(aim id, symbology, data) for a scan that starts with an AIM identifier."""
    if len(text) >= 3 and text[0] == "]" and text[1] in AIM_SYMBOLOGIES and text[2].isalnum():
        return text[:3], AIM_SYMBOLOGIES[text[1]], text[3:]
    return None, None, text


class BarcodeProtocol(Protocol):
    def __init__(self, config: BarcodeScannerConfig) -> None:
        super().__init__(config.id)
        self.config = config
        self._lines = LineBuffer(_TERMINATORS[config.terminator], config.max_length)

    def reset(self) -> None:
        self._lines.reset()

    def feed(self, data: bytes) -> ProtocolOutput:
        out = ProtocolOutput()
        lines, out.rejects = self._lines.feed(data)
        for raw in lines:
            if not raw:
                continue  # the other half of a CR LF pair, or an idle terminator
            text, reason = self._decode(raw)
            if reason:
                out.rejects.append(reason)
                continue
            aim_id, symbology, data_text = None, None, text
            if self.config.aim != "off":
                aim_id, symbology, data_text = split_aim(text)
                if self.config.aim == "on" and aim_id is None:
                    out.rejects.append(f"scan without an AIM identifier ({len(text)} characters)")
                    continue
            if not data_text:
                out.rejects.append("empty scan")
                continue
            out.readings.append(
                BarcodeRead(
                    device=self.device_id,
                    at=utcnow(),
                    text=data_text,
                    symbology=symbology,
                    aim_id=aim_id,
                    payload=_payload(data_text, symbology, self.config.seal_patterns),
                )
            )
        return out

    def _decode(self, raw: bytes) -> tuple[str, str | None]:
        # Reject reasons give lengths, never the scan: they go to the device.reject log, and a
        # PDF417 on an ID card carries the holder's name.
        prefix = self.config.prefix.encode(self.config.encoding)
        suffix = self.config.suffix.encode(self.config.encoding)
        if not prefix and not suffix and raw.endswith(_ETX) and _STX in raw:
            prefix, suffix = _STX, _ETX  # STX ... ETX framing, understood without configuring
        if prefix:
            # Line noise before the last prefix is dropped with it; framing bytes are control
            # characters a scan itself does not hold.
            at = raw.rfind(prefix)
            if at < 0:
                return "", f"scan without the prefix {prefix!r} ({len(raw)} bytes)"
            raw = raw[at + len(prefix) :]
        if suffix:
            if not raw.endswith(suffix):
                return "", f"scan without the suffix {suffix!r} ({len(raw)} bytes)"
            raw = raw[: -len(suffix)]
        try:
            text = raw.decode(self.config.encoding)
        except UnicodeDecodeError as error:
            return "", f"not {self.config.encoding} at byte {error.start} of {len(raw)}"
        if any(not ch.isprintable() for ch in text if ch != "\x1d"):  # GS separates GS1 fields
            return "", f"control characters in scan ({len(text)} characters)"
        return text, None
