"""Frames: several signed envelopes of one topic in one MQTT message, when a queue has them.

    line 0    the frame: a JWS Compact Serialization signed by the origin, header
              {"alg": "Ed25519", "kid": <origin>, "typ": "carec-frame+jws", "x5c": [cert]?},
              payload canonical JSON {"sha256": [base64url SHA-256 of each envelope, in order]}
    line 1..n the envelopes, each the JWS Compact Serialization its outbox stored, unchanged

Lines are separated by LF, which no JWS Compact Serialization contains, so a payload without
one is a single envelope, as before. Each envelope keeps its own signature: it can be parked,
quarantined, relayed or put in a file bundle alone. The frame's one signature covers the exact
bytes of every envelope it lists, so the receiver verifies one signature per frame instead of
one per envelope: an envelope whose digest the verified frame lists, and whose header names the
frame's signer, was vouched for by that signer's key over these very bytes. Anything else (a
frame that does not verify, a digest that does not match, an envelope naming another origin) is
verified on its own signature, like any single envelope, and quarantined if that fails.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature

from sync.envelope import (
    MAX_ENVELOPE_BYTES,
    EnvelopeRejected,
    KeyLookup,
    Reason,
    _b64url,
    _check_header,
    _json_object,
    _segments,
    b64url,
    canonical_json,
    header_segment,
    public_key_of,
    sign_compact,
    signature_of,
)
from sync.outbox import Outgoing, Signer

FRAME_TYPE = "carec-frame+jws"
SEPARATOR = b"\n"
# What the sender puts in one frame at most; the receiver takes up to MAX_FRAME_BYTES.
MAX_FRAME_ENVELOPES = 64
MAX_FRAME_BYTES = MAX_ENVELOPE_BYTES


def is_frame(data: bytes) -> bool:
    return SEPARATOR in data


def digest(envelope: bytes) -> str:
    """The base64url SHA-256 of an envelope's exact bytes, as a frame lists it."""
    return b64url(hashlib.sha256(envelope).digest()).decode("ascii")


def pack(envelopes: Sequence[bytes], signer: Signer) -> bytes:
    """One envelope as it is; several behind the frame line that vouches for them."""
    if len(envelopes) == 1:
        return envelopes[0]
    header = header_segment(FRAME_TYPE, signer.node_id, signer.private_key, signer.certificate_pem)
    content = canonical_json({"sha256": [digest(envelope) for envelope in envelopes]})
    frame = sign_compact(header, content, signer.private_key, MAX_FRAME_BYTES)
    return SEPARATOR.join([frame, *envelopes])


def group(messages: Sequence[Outgoing], max_bytes: int = MAX_FRAME_BYTES) -> list[list[Outgoing]]:
    """The messages taken from the outbox as frames: by topic (a default stream never spans
    two), each in queue order, at most MAX_FRAME_ENVELOPES and `max_bytes` (with the frame
    line's room) each; frames in the order of their first message, so evidence goes first.
    Under a bandwidth cap `max_bytes` is a second's worth, so that evidence never waits long
    behind one big frame."""
    frames: list[list[Outgoing]] = []
    open_frame: dict[str, tuple[list[Outgoing], int]] = {}
    # The frame line: header, certificate, 64 digests, signature.
    room = min(max_bytes, MAX_FRAME_BYTES) - 4096
    for message in messages:
        size = len(message.envelope) + 1
        current = open_frame.get(message.topic)
        if current is None or len(current[0]) >= MAX_FRAME_ENVELOPES or current[1] + size > room:
            current = ([], 0)
            frames.append(current[0])
        current[0].append(message)
        open_frame[message.topic] = (current[0], current[1] + size)
    return frames


@dataclass(frozen=True)
class Unpacked:
    envelopes: list[bytes]
    covered_by: str | None  # the origin whose verified frame vouches for every envelope
    problem: str | None = None  # why the frame itself vouches for nothing


def unpack(data: bytes, key_for: KeyLookup) -> Unpacked:
    """The envelopes of a frame, and whether its verified signature vouches for all of them.
    Raises EnvelopeRejected only for what is not a frame of envelopes at all."""
    if len(data) > MAX_FRAME_BYTES:
        raise EnvelopeRejected(
            Reason.OVERSIZED, f"frame of {len(data)} bytes, over the {MAX_FRAME_BYTES} limit"
        )
    frame, *envelopes = bytes(data).split(SEPARATOR)
    if not envelopes or not all(envelopes):
        raise EnvelopeRejected(Reason.MALFORMED, "frame: an empty line")
    try:
        signer = _verified_signer(frame, envelopes, key_for)
    except EnvelopeRejected as rejected:
        return Unpacked(envelopes, None, f"{rejected.reason.value}: {rejected.detail}")
    return Unpacked(envelopes, signer)


def _verified_signer(frame: bytes, envelopes: list[bytes], key_for: KeyLookup) -> str:
    header_segment_, payload_segment, signature_segment = _segments(frame)
    header = _json_object(_b64url(header_segment_, "frame header"), "frame header")
    signer, certificate = _check_header(header, signature_segment, FRAME_TYPE)
    public_key = public_key_of(signer, certificate, key_for)
    signature = signature_of(signature_segment, "frame signature")
    try:
        public_key.verify(signature, header_segment_ + b"." + payload_segment)
    except InvalidSignature:
        raise EnvelopeRejected(Reason.BAD_SIGNATURE, f"frame not signed by {signer}") from None
    listed = _json_object(_b64url(payload_segment, "frame payload"), "frame payload")
    if listed.get("sha256") != [digest(envelope) for envelope in envelopes]:
        raise EnvelopeRejected(Reason.BAD_SIGNATURE, "frame: the envelopes are not those signed")
    return signer
