"""The signed envelope: one message, signed by its origin node, as a JWS Compact Serialization.

    header  {"alg": "Ed25519", "kid": <origin node>, "typ": "carec-envelope+jws", "x5c": [cert]?}
    payload canonical JSON of {id, type, origin, destination, created, schema, stream, seq, payload}

`alg` is EdDSA over Ed25519 by its fully-specified name (RFC 9864; the polymorphic "EdDSA" of
RFC 8037 is deprecated there), and no other algorithm is accepted. `open_envelope` checks, in
order: size, shape, algorithm, signer, signature, then the content; a failure raises
`EnvelopeRejected` with a stable reason code and a detail naming the field.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Collection, Mapping
from enum import StrEnum
from typing import Annotated, Any

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from joserfc import jws
from joserfc.jwk import OKPKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    StringConstraints,
    ValidationError,
    model_validator,
)

from edge.manifest import describe_validation_error
from edge.timeutil import utcnow
from sync.messages import (
    MESSAGE_TYPES,
    Message,
    MessageId,
    PartyId,
    PayloadError,
    Priority,
    UtcTime,
    new_message_id,
    parse_payload,
    party_id_error,
)

ALGORITHM = "Ed25519"
ENVELOPE_TYPE = "carec-envelope+jws"
SCHEMA_VERSION = 1
SUPPORTED_SCHEMAS = frozenset({SCHEMA_VERSION})
MAX_ENVELOPE_BYTES = 256 * 1024
MAX_HEADER_BYTES = 4096  # room for one Ed25519 certificate in x5c
CLOCK_SKEW = dt.timedelta(minutes=5)
HEADER_FIELDS = frozenset({"alg", "kid", "typ", "x5c"})

# Who signed: (origin node id, the certificate it sent as PEM or None) -> its public key.
# Raises (anything) when the origin is not trusted.
KeyLookup = Callable[[str, bytes | None], Ed25519PublicKey]


class Reason(StrEnum):
    OVERSIZED = "oversized"
    MALFORMED = "malformed"
    UNSIGNED = "unsigned"
    BAD_SIGNATURE = "bad_signature"
    UNKNOWN_ORIGIN = "unknown_origin"
    ORIGIN_MISMATCH = "origin_mismatch"
    WRONG_DESTINATION = "wrong_destination"
    EXPIRED = "expired"
    FROM_THE_FUTURE = "from_the_future"
    UNKNOWN_TYPE = "unknown_type"
    UNSUPPORTED_SCHEMA = "unsupported_schema"
    TOPIC_MISMATCH = "topic_mismatch"  # (the inbox's check) its topic says another route


class EnvelopeRejected(Exception):  # noqa: N818 - the name other rooms code against
    """An envelope that must not be applied: `reason` is stable, `detail` is for people."""

    def __init__(self, reason: Reason, detail: str) -> None:
        self.reason = reason
        self.detail = detail[:500]
        super().__init__(f"{reason.value}: {self.detail}")


Stream = Annotated[str, StringConstraints(strict=True, pattern=r"^[A-Za-z0-9_.:/-]{1,200}$")]
TypeName = Annotated[str, StringConstraints(strict=True, pattern=r"^[a-z][a-z0-9_]{0,31}$")]


def default_stream(origin: str, destination: str, message_type: str) -> str:
    """One ordered stream per origin, destination and type: a receiver never sees a gap that
    belongs to another destination's messages."""
    return f"{origin}/{destination}/{message_type}"


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    id: MessageId
    type: TypeName
    origin: PartyId
    destination: PartyId
    created: UtcTime
    schema_version: Annotated[int, Field(alias="schema", ge=1, strict=True)]
    stream: Stream
    seq: Annotated[int, Field(ge=1, strict=True)]


class _Wire(_Fields):
    payload: dict[str, Any]


class Envelope(_Fields):
    """One message with its addressing, before signing or after verification."""

    payload: SerializeAsAny[Message]

    @model_validator(mode="after")
    def _payload_is_of_type(self) -> Envelope:
        if MESSAGE_TYPES.get(self.type) is not type(self.payload):
            raise ValueError(f"payload is a {type(self.payload).__name__}, not a {self.type}")
        return self

    @classmethod
    def new(
        cls,
        payload: Message,
        *,
        origin: str,
        destination: str,
        seq: int,
        stream: str | None = None,
        now: dt.datetime | None = None,
    ) -> Envelope:
        """A new message with a fresh UUIDv7 id, created now."""
        return cls.model_validate(
            {
                "id": new_message_id(),
                "type": payload.TYPE,
                "origin": origin,
                "destination": destination,
                "created": now or utcnow(),
                "schema": SCHEMA_VERSION,
                "stream": stream or default_stream(origin, destination, payload.TYPE),
                "seq": seq,
                "payload": payload,
            }
        )

    @property
    def priority(self) -> Priority:
        return self.payload.PRIORITY

    def to_dict(self) -> dict[str, Any]:
        """The envelope's content as JSON values, as it is signed."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_dict())


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: the same value always gives the same bytes."""
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


def _registry(max_bytes: int) -> jws.JWSRegistry:
    registry = jws.JWSRegistry(algorithms=[ALGORITHM])
    registry.max_header_length = MAX_HEADER_BYTES
    registry.max_payload_length = max_bytes
    return registry


def seal(
    message: Envelope,
    private_key: Ed25519PrivateKey,
    origin: str,
    certificate_pem: bytes | str | None = None,
    *,
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> bytes:
    """Sign `message` as `origin` (which must be its origin); the JWS Compact Serialization.

    With `certificate_pem` (the origin's certificate, whose key must be `private_key`'s), the
    certificate travels in `x5c` so that a receiver holding only the CA can verify.
    """
    if origin != message.origin:
        raise ValueError(f"cannot sign as {origin} a message whose origin is {message.origin}")
    header: dict[str, Any] = {"alg": ALGORITHM, "kid": origin, "typ": ENVELOPE_TYPE}
    if certificate_pem is not None:
        header["x5c"] = [_x5c_entry(certificate_pem, private_key.public_key())]
    signed = jws.serialize_compact(
        header,
        message.canonical_json(),
        OKPKey.import_key(private_key),
        registry=_registry(max_bytes),
    ).encode("ascii")
    if len(signed) > max_bytes:
        raise ValueError(f"the signed envelope is {len(signed)} bytes, over the {max_bytes} limit")
    return signed


def _x5c_entry(certificate_pem: bytes | str, public_key: Ed25519PublicKey) -> str:
    pem = certificate_pem.encode("ascii") if isinstance(certificate_pem, str) else certificate_pem
    certificate = x509.load_pem_x509_certificate(pem)
    if certificate.public_key() != public_key:
        raise ValueError("the certificate is not for this signing key")
    der = certificate.public_bytes(serialization.Encoding.DER)
    return base64.b64encode(der).decode("ascii")


def open_envelope(
    data: bytes,
    key_for: KeyLookup,
    *,
    expected_destination: str | Collection[str],
    now: dt.datetime,
    max_age: dt.timedelta | Mapping[Priority, dt.timedelta] | None,
    max_bytes: int = MAX_ENVELOPE_BYTES,
    max_skew: dt.timedelta = CLOCK_SKEW,
) -> Envelope:
    """Verify and parse one envelope addressed to `expected_destination`, or raise
    EnvelopeRejected. `max_age` may differ per priority class (a class left out has no limit);
    None means no age limit. Replays are the inbox's to refuse, by message id."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware time, in UTC")
    if len(data) > max_bytes:
        raise EnvelopeRejected(Reason.OVERSIZED, f"{len(data)} bytes, over the {max_bytes} limit")
    header_segment, payload_segment, signature_segment = _segments(data)
    header = _json_object(_b64url(header_segment, "header"), "header")
    origin, cert_pem = _check_header(header, signature_segment)
    try:
        public_key = key_for(origin, cert_pem)
    except Exception as error:  # the lookup is the trust store's: any refusal is "unknown"
        raise EnvelopeRejected(Reason.UNKNOWN_ORIGIN, f"{origin}: {error}") from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise EnvelopeRejected(Reason.UNKNOWN_ORIGIN, f"{origin}: no Ed25519 key")
    # RFC 7515 section 5.2 for Ed25519: the signature over the first two segments as sent.
    # The header checks a JWS library makes are made above; its generic path costs more than
    # the signature itself, on the receiver's hot path.
    signature = _b64url(signature_segment, "signature")
    try:
        public_key.verify(signature, header_segment + b"." + payload_segment)
    except InvalidSignature:
        raise EnvelopeRejected(Reason.BAD_SIGNATURE, f"not signed by {origin}'s key") from None
    return _check_content(
        _json_object(_b64url(payload_segment, "payload"), "payload"),
        signer=origin,
        expected_destination=expected_destination,
        now=now,
        max_age=max_age,
        max_skew=max_skew,
    )


_SEGMENT = re.compile(rb"^[A-Za-z0-9_-]*$")


def _segments(data: bytes) -> tuple[bytes, bytes, bytes]:
    parts = bytes(data).split(b".")
    if len(parts) != 3 or not all(_SEGMENT.match(part) for part in parts):
        raise EnvelopeRejected(
            Reason.MALFORMED, "not a JWS Compact Serialization (three base64url parts)"
        )
    return parts[0], parts[1], parts[2]


def _b64url(segment: bytes, where: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(segment + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: not base64url") from None


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise ValueError(f"duplicate key {key[:40]!r}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _json_object(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=_no_duplicates, parse_constant=_no_constant
        )
    except (ValueError, RecursionError) as error:
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: not JSON: {error}") from None
    if not isinstance(value, dict):
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: expected a JSON object")
    return value


def _check_header(header: dict[str, Any], signature_segment: bytes) -> tuple[str, bytes | None]:
    """The signer's id and certificate, after refusing what is unsigned or not ours."""
    alg = header.get("alg")
    if alg == "none" or not signature_segment:
        raise EnvelopeRejected(Reason.UNSIGNED, f"alg {alg!r} with no signature")
    if not isinstance(alg, str):
        raise EnvelopeRejected(Reason.MALFORMED, "header.alg: required")
    if alg != ALGORITHM:
        raise EnvelopeRejected(
            Reason.BAD_SIGNATURE, f"header.alg: {alg[:40]!r} refused, only {ALGORITHM}"
        )
    unknown = sorted(set(header) - HEADER_FIELDS)
    if unknown:
        raise EnvelopeRejected(Reason.MALFORMED, f"header.{unknown[0][:40]}: not a header field")
    if header.get("typ") != ENVELOPE_TYPE:
        raise EnvelopeRejected(Reason.MALFORMED, f"header.typ: expected {ENVELOPE_TYPE}")
    kid = header.get("kid")
    if not isinstance(kid, str):
        raise EnvelopeRejected(Reason.MALFORMED, "header.kid: required, the origin node id")
    error = party_id_error(kid)
    if error:
        raise EnvelopeRejected(Reason.MALFORMED, f"header.kid: {error}")
    return kid, _certificate(header["x5c"]) if "x5c" in header else None


def _certificate(x5c: Any) -> bytes:
    if not (isinstance(x5c, list) and len(x5c) == 1 and isinstance(x5c[0], str)):
        raise EnvelopeRejected(Reason.MALFORMED, "header.x5c: expected the origin's certificate")
    try:
        der = base64.b64decode(x5c[0], validate=True)
        certificate = x509.load_der_x509_certificate(der)
    except ValueError:
        raise EnvelopeRejected(Reason.MALFORMED, "header.x5c[0]: not a DER certificate") from None
    return certificate.public_bytes(serialization.Encoding.PEM)


def _check_content(
    content: dict[str, Any],
    *,
    signer: str,
    expected_destination: str | Collection[str],
    now: dt.datetime,
    max_age: dt.timedelta | Mapping[Priority, dt.timedelta] | None,
    max_skew: dt.timedelta,
) -> Envelope:
    schema = content.get("schema")
    if isinstance(schema, int) and not isinstance(schema, bool) and schema not in SUPPORTED_SCHEMAS:
        supported = ", ".join(map(str, sorted(SUPPORTED_SCHEMAS)))
        raise EnvelopeRejected(Reason.UNSUPPORTED_SCHEMA, f"schema {schema}, supported {supported}")
    try:
        wire = _Wire.model_validate(content)
    except ValidationError as error:
        raise EnvelopeRejected(
            Reason.MALFORMED, "; ".join(describe_validation_error(error))
        ) from None
    if wire.origin != signer:
        raise EnvelopeRejected(
            Reason.ORIGIN_MISMATCH, f"origin {wire.origin} signed by {signer} (header.kid)"
        )
    if isinstance(expected_destination, str):
        expected_destination = {expected_destination}
    if wire.destination not in expected_destination:
        raise EnvelopeRejected(Reason.WRONG_DESTINATION, f"addressed to {wire.destination}")
    model = MESSAGE_TYPES.get(wire.type)
    if model is None:
        raise EnvelopeRejected(Reason.UNKNOWN_TYPE, f"type {wire.type!r}")
    limit = max_age.get(model.PRIORITY) if isinstance(max_age, Mapping) else max_age
    _check_age(wire.created, now, limit, max_skew)
    try:
        payload = parse_payload(wire.type, wire.payload)
    except PayloadError as error:
        raise EnvelopeRejected(
            Reason.MALFORMED, "; ".join(f"payload.{reason}" for reason in error.reasons)
        ) from None
    speaker = payload.speaks_for()
    if speaker is not None and speaker != signer:
        raise EnvelopeRejected(
            Reason.ORIGIN_MISMATCH, f"the {wire.type} speaks for {speaker}, signed by {signer}"
        )
    fields = wire.model_dump(by_alias=True, exclude={"payload"})
    return Envelope.model_validate({**fields, "payload": payload})


def _check_age(
    created: dt.datetime, now: dt.datetime, max_age: dt.timedelta | None, max_skew: dt.timedelta
) -> None:
    if created - now > max_skew:
        raise EnvelopeRejected(
            Reason.FROM_THE_FUTURE, f"created {created - now} ahead of this clock"
        )
    if max_age is not None and now - created > max_age:
        raise EnvelopeRejected(Reason.EXPIRED, f"created {now - created} ago, limit {max_age}")
