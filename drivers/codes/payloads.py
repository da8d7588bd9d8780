"""`parse_payload`: what a code's text means to a border post. One identifier (MRN, TIR carnet,
CMR note, seal, container), keyed (`MRN:…`, `SEAL=…`) or recognised by its shape, or a
structured transit payload (`key=value;…` or JSON) carrying several. Unknown text is None."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from drivers.codes.identifiers import (
    cmr_error,
    compact,
    container_error,
    mrn_error,
    seal_error,
    tir_carnet_error,
)
from edge.json_input import JsonInputError, parse_json

MAX_PAYLOAD_CHARS = 8192  # more than any QR code holds
RETAIL_FORMATS = frozenset({"ean", "ean13", "ean8", "upca", "upce"})  # goods, not documents


class PayloadKind(StrEnum):
    MRN = "mrn"  # transit (NCTS) Movement Reference Number
    TIR_CARNET = "tir_carnet"
    CMR = "cmr"  # CMR consignment note number
    SEAL = "seal"
    CONTAINER = "container"  # ISO 6346
    TRANSIT = "transit"  # structured: several of the above in one code (an e-TIR / transit QR)


@dataclass(frozen=True)
class Payload:
    kind: PayloadKind
    mrn: str | None = None
    tir_carnet: str | None = None
    cmr: str | None = None
    seals: tuple[str, ...] = ()
    containers: tuple[str, ...] = ()
    extra: Mapping[str, str] = field(default_factory=dict, hash=False)  # other keys given
    problems: tuple[str, ...] = ()  # "mrn: check character is 8, expected 9"

    @property
    def valid(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"kind": self.kind.value, "valid": self.valid}
        for name in ("mrn", "tir_carnet", "cmr"):
            if getattr(self, name) is not None:
                out[name] = getattr(self, name)
        if self.seals:
            out["seals"] = list(self.seals)
        if self.containers:
            out["containers"] = list(self.containers)
        if self.extra:
            out["extra"] = dict(self.extra)
        if self.problems:
            out["problems"] = list(self.problems)
        return out


@dataclass(frozen=True)
class _Field:
    kind: PayloadKind
    name: str  # the Payload attribute
    error: Callable[[str], str | None]
    many: bool = False  # seals and containers come in lists


_MRN = _Field(PayloadKind.MRN, "mrn", mrn_error)
_TIR = _Field(PayloadKind.TIR_CARNET, "tir_carnet", tir_carnet_error)
_CMR = _Field(PayloadKind.CMR, "cmr", cmr_error)
_SEAL = _Field(PayloadKind.SEAL, "seals", seal_error, many=True)
_CONTAINER = _Field(PayloadKind.CONTAINER, "containers", container_error, many=True)

# Keys as they appear in codes, lower case, "-" and " " read as "_".
_KEYS: dict[str, _Field] = {
    "mrn": _MRN, "transit": _MRN, "transit_ref": _MRN, "transit_reference": _MRN,
    "tir": _TIR, "carnet": _TIR, "tir_carnet": _TIR,
    "cmr": _CMR, "cmr_no": _CMR, "cmr_number": _CMR,
    "seal": _SEAL, "seals": _SEAL, "seal_id": _SEAL,
    "container": _CONTAINER, "containers": _CONTAINER, "cntr": _CONTAINER,
}  # fmt: skip

# Unkeyed text recognised by its shape alone, tried in order.
_SHAPES: tuple[tuple[re.Pattern[str], _Field], ...] = (
    (re.compile(r"[A-Z]{3}[UJZR] ?\d{6} ?\d"), _CONTAINER),
    (re.compile(r"\d{2}[A-Z]{2}[A-Z0-9]{14}"), _MRN),
    (re.compile(r"[A-Z]{2} ?\d{8}"), _TIR),
)

# "MRN: 24KZ…", "SEAL=A123", "TIR XA81234567", "CMR123456" (a key glued to a digit).
_KEYED = re.compile(
    r"(?P<key>MRN|TIR|CARNET|CMR|SEAL|CONTAINER|CNTR)(?:\s*[:=#]\s*|\s+|(?=\d))(?P<value>.*)",
    re.IGNORECASE | re.DOTALL,
)
_ITEM_SEPARATORS = re.compile(r"[;\n|&]")
_KEY_VALUE = re.compile(r"\s*(?P<key>[A-Za-z][A-Za-z0-9_\- ]{0,40}?)\s*[=:]\s*(?P<value>.*)")


def parse_payload(
    text: str,
    format: str | None = None,
    *,
    seal_patterns: Sequence[str | re.Pattern[str]] = (),
) -> Payload | None:
    """What `text`, read from a code of `format` ("qr", "code128", ...), carries; None when it
    is nothing a border post expects. A recognised but invalid value (a wrong check digit) is a
    Payload with `problems`, never None.

    `seal_patterns` are a seal manufacturer's id formats (full match; a group named "id", when
    present, is the id); they are tried before the unkeyed shapes."""
    if format is not None and format.lower() in RETAIL_FORMATS:
        return None
    stripped = text.strip().strip("\x1d\x1e\x04")
    if not stripped or len(stripped) > MAX_PAYLOAD_CHARS:
        return None
    if stripped.startswith("{"):
        return _from_json(stripped)
    items = [item for item in _ITEM_SEPARATORS.split(stripped) if item.strip()]
    if len(items) == 1 and (keyed := _KEYED.fullmatch(stripped)):
        return _single(_KEYS[keyed["key"].lower()], keyed["value"])
    if structured := _from_key_values(items):
        return structured
    for pattern in seal_patterns:
        if found := re.fullmatch(pattern, stripped):
            groups = found.groupdict()
            return _single(_SEAL, groups["id"] if groups.get("id") else found[0])
    upper = stripped.upper()
    for shape, known in _SHAPES:
        if shape.fullmatch(upper):
            return _single(known, upper)
    return None


def _single(known: _Field, raw: str) -> Payload:
    collector = _Collector()
    collector.add_one(known, raw, known.kind.value)
    return collector.payload(known.kind) or Payload(known.kind)


class _Collector:
    """Fields of a payload gathered key by key, with a problem for each bad value."""

    def __init__(self) -> None:
        self.singles: dict[str, str] = {}
        self.lists: dict[str, list[str]] = {"seals": [], "containers": []}
        self.extra: dict[str, str] = {}
        self.problems: list[str] = []

    def add(self, key: str, value: object) -> None:
        name = re.sub(r"[\s\-]+", "_", key.strip().lower())
        known = _KEYS.get(name)
        if known is None:
            self.extra[key.strip()] = value if isinstance(value, str) else json.dumps(value)
        elif known.many:
            for item in _as_list(value):
                self.add_one(known, item, f"{known.name}[{len(self.lists[known.name])}]")
        else:
            self.add_one(known, value, known.name)

    def add_one(self, known: _Field, value: object, label: str) -> None:
        if not isinstance(value, str):
            self.problems.append(f"{label}: expected text, got {_json_type(value)}")
            return
        text = compact(value)
        if not text:
            self.problems.append(f"{label}: empty")
            return
        if error := known.error(text):
            self.problems.append(f"{label}: {error}")
        if known.many:
            self.lists[known.name].append(text)
        elif known.name in self.singles and self.singles[known.name] != text:
            self.problems.append(f"{label}: given twice, {self.singles[known.name]} and {text}")
        else:
            self.singles[known.name] = text

    def payload(self, kind: PayloadKind = PayloadKind.TRANSIT) -> Payload | None:
        if not self.singles and not any(self.lists.values()) and not self.problems:
            return None  # nothing a border post expects, only other keys
        return Payload(
            kind=kind,
            mrn=self.singles.get("mrn"),
            tir_carnet=self.singles.get("tir_carnet"),
            cmr=self.singles.get("cmr"),
            seals=tuple(self.lists["seals"]),
            containers=tuple(self.lists["containers"]),
            extra=self.extra,
            problems=tuple(self.problems),
        )


def _from_json(text: str) -> Payload | None:
    try:
        # The strict reader: a duplicate key (two MRNs, the last winning) is not a payload.
        document = parse_json(text, "code payload")
    except JsonInputError:
        return None
    if not isinstance(document, dict):
        return None
    collector = _Collector()
    for key, value in document.items():
        collector.add(key, value)
    return collector.payload()


def _from_key_values(items: Iterable[str]) -> Payload | None:
    collector = _Collector()
    for item in items:
        pair = _KEY_VALUE.fullmatch(item)
        if pair is None:
            return None  # not a key=value list after all
        collector.add(pair["key"], pair["value"])
    return collector.payload()


def _as_list(value: object) -> list[object]:
    if isinstance(value, list):
        return value
    if isinstance(value, str):
        return [part for part in value.split(",") if part.strip()] or [value]
    return [value]


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "a number"
    return "a list" if isinstance(value, list) else "an object"
