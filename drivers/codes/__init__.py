"""Codes in images and what they carry: `decode_image` reads barcodes and 2D codes from a
camera frame or an image file (zbar first, zxing-cpp for the rest); `parse_payload` turns a
code's text into what a border post expects (MRN, TIR carnet, CMR, seal, container, e-TIR QR).

The image half (OpenCV, zbar, zxing-cpp) loads on first use: a serial scanner only needs the
payloads, and every `carec-edge` command would otherwise pay for OpenCV at start."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from drivers.codes.identifiers import mrn_error
from drivers.codes.payloads import Payload, PayloadKind, parse_payload

if TYPE_CHECKING:
    from drivers.codes.decoding import DecodedCode, decode_image
    from drivers.codes.images import ImageError

_LAZY = {"DecodedCode": "decoding", "decode_image": "decoding", "ImageError": "images"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"drivers.codes.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'drivers.codes' has no attribute {name!r}")


__all__ = [
    "DecodedCode",
    "ImageError",
    "Payload",
    "PayloadKind",
    "decode_image",
    "mrn_error",
    "parse_payload",
]
