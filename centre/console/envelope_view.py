"""A stored envelope decoded for reading, not trusted: its header and payload as indented JSON
(or, for an envelope kept as its canonical JSON, that JSON), or what made them unreadable.
Nothing here verifies; the inbox does that (`quarantine.py`).

A frame (several envelopes behind one signed line) shows as its lines, each decoded alike."""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

MAX_PARTS = 70  # a frame holds at most 64 envelopes and its own line


@dataclass(frozen=True)
class DecodedPart:
    header: str | None  # indented JSON
    payload: str | None
    problem: str | None  # why it could not be decoded, naming the part


def _segment(segment: str, where: str) -> tuple[dict[str, Any] | None, str | None]:
    try:
        raw = base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))
        value = json.loads(raw)
    except (binascii.Error, ValueError):
        return None, f"{where}: not base64url JSON"
    if not isinstance(value, dict):
        return None, f"{where}: not a JSON object"
    return value, None


def _pretty(value: dict[str, Any] | None) -> str | None:
    return None if value is None else json.dumps(value, indent=2, ensure_ascii=False)


def decode_part(line: bytes, index: int) -> DecodedPart:
    try:
        text = line.decode("ascii")
    except UnicodeDecodeError:
        return DecodedPart(None, None, f"part {index}: not ASCII, so not a JWS")
    if text.lstrip().startswith("{"):  # an envelope's canonical JSON, kept without its JWS
        try:
            value = json.loads(text)
        except ValueError:
            return DecodedPart(None, None, f"part {index}: not JSON")
        if isinstance(value, dict):
            return DecodedPart(None, _pretty(value), None)
        return DecodedPart(None, None, f"part {index}: not a JSON object")
    segments = text.strip().split(".")
    if len(segments) != 3:
        return DecodedPart(None, None, f"part {index}: {len(segments)} segments, a JWS has 3")
    header, header_problem = _segment(segments[0], f"part {index} header")
    payload, payload_problem = _segment(segments[1], f"part {index} payload")
    return DecodedPart(_pretty(header), _pretty(payload), header_problem or payload_problem)


def decode_envelope(raw: bytes) -> list[DecodedPart]:
    """Each line of `raw` (one for an envelope, several for a frame), decoded."""
    lines = [line for line in raw.split(b"\n") if line.strip()]
    return [decode_part(line, i) for i, line in enumerate(lines[:MAX_PARTS])]


def message_id_of(raw: bytes) -> str | None:
    """The `id` an envelope's payload claims, unverified (for a caller that verified it)."""
    lines = [line for line in raw.split(b"\n") if line.strip()]
    if len(lines) != 1:
        return None
    segments = lines[0].decode("ascii", "replace").strip().split(".")
    if len(segments) != 3:
        return None
    payload, _ = _segment(segments[1], "payload")
    message_id = payload.get("id") if payload else None
    return message_id if isinstance(message_id, str) else None
