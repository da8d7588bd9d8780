"""The two decoders behind one shape: zbar (pyzbar) for 1D codes and QR, zxing-cpp for PDF417,
DataMatrix, Aztec and whatever zbar missed. Both report normalised format names."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, TypeAlias

import zxingcpp
from pyzbar import pyzbar  # type: ignore[import-untyped]

from drivers.codes.images import Gray, ImageError

Point: TypeAlias = tuple[int, int]

ZBAR = "zbar"
ZXING = "zxing-cpp"

# zbar symbol type -> our name. PDF417 is left to zxing-cpp: zbar finds it but does not decode it.
_ZBAR_NAMES = {
    "QRCODE": "qr", "CODE128": "code128", "CODE39": "code39", "CODE93": "code93",
    "EAN13": "ean13", "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce", "I25": "itf",
    "CODABAR": "codabar", "DATABAR": "gs1-databar", "DATABAR_EXP": "gs1-databar-expanded",
}  # fmt: skip
_ZBAR_SYMBOLS = [pyzbar.ZBarSymbol[name] for name in _ZBAR_NAMES if name != "UPCA"]  # UPC-A: EAN-13
ZBAR_FORMATS = frozenset(_ZBAR_NAMES.values())

# zxing-cpp format (or symbology) name -> our name; what is not here is lower-cased.
_ZXING_NAMES = {
    "QRCode": "qr", "QRCodeModel1": "qr", "QRCodeModel2": "qr", "MicroQRCode": "micro-qr",
    "RMQRCode": "rmqr", "Code128": "code128", "PDF417": "pdf417", "CompactPDF417": "pdf417",
    "MicroPDF417": "micro-pdf417", "DataMatrix": "datamatrix", "Aztec": "aztec",
    "AztecCode": "aztec", "AztecRune": "aztec-rune", "EAN13": "ean13", "ISBN": "ean13",
    "EAN8": "ean8", "UPCA": "upca", "UPCE": "upce", "Code39": "code39", "Code39Std": "code39",
    "Code39Ext": "code39", "Code93": "code93", "Codabar": "codabar", "ITF": "itf", "ITF14": "itf",
    "DataBar": "gs1-databar", "DataBarOmni": "gs1-databar", "DataBarStk": "gs1-databar",
    "DataBarStkOmni": "gs1-databar", "DataBarExp": "gs1-databar-expanded",
    "DataBarExpStk": "gs1-databar-expanded", "DataBarLtd": "gs1-databar-limited",
    "MaxiCode": "maxicode",
}  # fmt: skip


@dataclass(frozen=True)
class RawCode:
    """One symbol as a decoder saw it, in the coordinates of the image it was given."""

    format: str
    text: str
    decoder: str
    polygon: tuple[Point, ...]


def read_zbar(gray: Gray) -> list[RawCode]:
    try:
        symbols: list[Any] = pyzbar.decode(gray, symbols=_ZBAR_SYMBOLS)
    except (pyzbar.PyZbarError, ValueError, TypeError) as error:
        raise ImageError(f"zbar cannot read this image: {error}") from error
    return [
        RawCode(
            format=_ZBAR_NAMES.get(symbol.type, str(symbol.type).lower()),
            text=_text(symbol.data),
            decoder=ZBAR,
            polygon=tuple((int(p.x), int(p.y)) for p in symbol.polygon),
        )
        for symbol in symbols
    ]


def read_zxing(gray: Gray, *, invert: bool = True) -> list[RawCode]:
    """`invert`: when nothing is found, try again for light codes on a dark ground (twice the
    time of an image without codes)."""
    try:
        symbols = zxingcpp.read_barcodes(
            gray,
            try_rotate=True,
            try_downscale=True,
            try_invert=invert,
            text_mode=zxingcpp.TextMode.Plain,  # raw content, as zbar gives it: no "(01)" or "<GS>"
        )
    except (RuntimeError, ValueError, TypeError) as error:
        raise ImageError(f"zxing-cpp cannot read this image: {error}") from error
    return [
        RawCode(
            format=_zxing_name(symbol.format, symbol.symbology),
            text=symbol.text,
            decoder=ZXING,
            polygon=_corners(symbol.position),
        )
        for symbol in symbols
        if symbol.valid
    ]


def _zxing_name(fmt: zxingcpp.BarcodeFormat, symbology: zxingcpp.BarcodeFormat) -> str:
    for candidate in (fmt.name, symbology.name):
        if candidate in _ZXING_NAMES:
            return _ZXING_NAMES[candidate]
    return fmt.name.lower()


def _corners(position: zxingcpp.Position) -> tuple[Point, ...]:
    corners = (position.top_left, position.top_right, position.bottom_right, position.bottom_left)
    return tuple((int(p.x), int(p.y)) for p in corners)


def _text(data: bytes) -> str:
    # zbar hands QR text over as UTF-8; 1D codes carry bytes that are Latin-1 when not ASCII.
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("latin-1")


def merge(zbar_codes: Iterable[RawCode], zxing_codes: Iterable[RawCode]) -> list[RawCode]:
    """zbar's reads, then zxing-cpp's that zbar did not make: a symbol found by both is zbar's.

    Counted per (format, text), so two labels with the same id are still two reads."""
    merged = list(zbar_codes)
    unmatched = [(code.format, code.text) for code in merged]
    for code in zxing_codes:
        key = (code.format, code.text)
        if key in unmatched:
            unmatched.remove(key)
        else:
            merged.append(code)
    return merged
