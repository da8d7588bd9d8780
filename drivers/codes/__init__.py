"""Codes in images and what they carry: `decode_image` reads barcodes and 2D codes from a
camera frame or an image file (zbar first, zxing-cpp for the rest); `parse_payload` turns a
code's text into what a border post expects (MRN, TIR carnet, CMR, seal, container, e-TIR QR)."""

from drivers.codes.decoding import DecodedCode, decode_image
from drivers.codes.identifiers import mrn_error
from drivers.codes.images import ImageError
from drivers.codes.payloads import Payload, PayloadKind, parse_payload

__all__ = [
    "DecodedCode",
    "ImageError",
    "Payload",
    "PayloadKind",
    "decode_image",
    "mrn_error",
    "parse_payload",
]
