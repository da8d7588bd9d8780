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
import functools
import json
from collections.abc import Callable, Collection, Mapping
from enum import StrEnum
from typing import Annotated, Any

import orjson
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SerializeAsAny,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from edge.json_input import refuse_constant, refuse_duplicates
from edge.manifest import describe_validation_error
from edge.store.schema import MAX_STORED_INT
from edge.timeutil import format_utc, utcnow
from sync.messages import (
    MESSAGE_TYPES,
    Message,
    MessageId,
    PartyId,
    PayloadError,
    PositiveInt,
    Priority,
    UtcTime,
    new_message_id,
    parse_payload,
    party_id_error,
    payload_json,
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
    schema_version: Annotated[PositiveInt, Field(alias="schema")]
    stream: Stream
    seq: PositiveInt


class _Wire(_Fields):
    payload: dict[str, Any]


class _Addressing(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    origin: PartyId
    destination: PartyId
    stream: Stream


@functools.lru_cache(maxsize=1024)
def _check_addressing(origin: str, destination: str, stream: str) -> None:
    """Raises ValidationError, as Envelope would, for ids or a stream outside the contract;
    remembered, as a node writes to few destinations and streams."""
    _Addressing(origin=origin, destination=destination, stream=stream)


class Envelope(_Fields):
    """One message with its addressing, before signing or after verification."""

    payload: SerializeAsAny[Message]

    @field_validator("payload", mode="before")
    @classmethod
    def _payload_of_its_type(cls, value: Any, info: ValidationInfo) -> Any:
        """A decoded payload is validated by its type's model, in the same pass."""
        model = MESSAGE_TYPES.get(info.data.get("type", ""))
        if isinstance(value, dict) and model is not None:
            return model.model_validate(value)
        return value

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
        stream = stream or default_stream(origin, destination, payload.TYPE)
        created = now or utcnow()
        if (
            not isinstance(payload, Message)
            or MESSAGE_TYPES.get(payload.TYPE) is not type(payload)
            or type(seq) is not int
            or not 1 <= seq <= MAX_STORED_INT
            or created.utcoffset() != _ZERO
        ):  # the unusual: validated in full, with the reasons
            return cls.model_validate(
                {
                    "id": new_message_id(), "type": payload.TYPE, "origin": origin,
                    "destination": destination, "created": created, "schema": SCHEMA_VERSION,
                    "stream": stream, "seq": seq, "payload": payload,
                }
            )  # fmt: skip
        # The usual, on the sender's hot path: what the caller gives is checked (the ids and
        # stream once per value), what is made here is valid by construction.
        _check_addressing(origin, destination, stream)
        return cls.model_construct(
            id=new_message_id(), type=payload.TYPE, origin=origin, destination=destination,
            created=created, schema_version=SCHEMA_VERSION, stream=stream, seq=seq,
            payload=payload,
        )  # fmt: skip

    @property
    def priority(self) -> Priority:
        return self.payload.PRIORITY

    def to_dict(self) -> dict[str, Any]:
        """The envelope's content as JSON values, as it is signed: what
        `model_dump(mode="json", by_alias=True, exclude_none=True)` gives, in a fifth of the
        time (no field of the envelope itself is ever None)."""
        return {
            "id": self.id,
            "type": self.type,
            "origin": self.origin,
            "destination": self.destination,
            "created": format_utc(self.created),
            "schema": self.schema_version,
            "stream": self.stream,
            "seq": self.seq,
            "payload": payload_json(self.payload),
        }

    def canonical_json(self) -> bytes:
        return canonical_json(self.to_dict())


_ZERO = dt.timedelta(0)
# Dates and dataclasses are not JSON values: refused (by the fallback), not written by orjson.
_ORJSON_OPTIONS = (
    orjson.OPT_SORT_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
)


def canonical_json(value: Any) -> bytes:
    """Sorted keys, no spaces, UTF-8, no NaN: the same value always gives the same bytes.

    orjson writes it, ten times faster than the json module; what orjson cannot write (an
    integer beyond 64 bits, a lone surrogate) or writes as null (NaN, infinities: orjson does
    not refuse them) goes through the json module, which writes the first and refuses the
    last. Which of the two writes a value depends on the value alone, so the bytes are stable.
    """
    try:
        data = orjson.dumps(value, option=_ORJSON_OPTIONS)
    except TypeError:
        data = b"null"  # the json module's turn
    if b"null" not in data:
        return data
    text = json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False
    )
    return text.encode("utf-8")


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
    header = header_segment(ENVELOPE_TYPE, origin, private_key, certificate_pem)
    return sign_compact(header, message.canonical_json(), private_key, max_bytes)


def seal_new(
    payload: Message,
    private_key: Ed25519PrivateKey,
    origin: str,
    destination: str,
    *,
    seq: int,
    stream: str,
    created: dt.datetime,
    certificate_pem: bytes | str | None = None,
    max_bytes: int = MAX_ENVELOPE_BYTES,
) -> tuple[str, bytes]:
    """A new message signed as `origin`: its id and its JWS, the bytes that
    `seal(Envelope.new(...), ...)` gives, without building the Envelope on the way (the
    outbox's hot path: each message is made once and only ever sent as these bytes)."""
    if (
        MESSAGE_TYPES.get(payload.TYPE) is not type(payload)
        or type(seq) is not int
        or not 1 <= seq <= MAX_STORED_INT
        or created.utcoffset() != _ZERO
    ):  # the unusual: Envelope says what is wrong, or makes it right (a time not in UTC)
        envelope = Envelope.new(
            payload, origin=origin, destination=destination, seq=seq, stream=stream, now=created
        )
        return envelope.id, seal(
            envelope, private_key, origin, certificate_pem, max_bytes=max_bytes
        )
    _check_addressing(origin, destination, stream)
    message_id = new_message_id()
    content = {
        "id": message_id, "type": payload.TYPE, "origin": origin, "destination": destination,
        "created": _created_text(created), "schema": SCHEMA_VERSION, "stream": stream,
        "seq": seq, "payload": payload_json(payload),
    }  # fmt: skip
    header = header_segment(ENVELOPE_TYPE, origin, private_key, certificate_pem)
    return message_id, sign_compact(header, canonical_json(content), private_key, max_bytes)


@functools.lru_cache(maxsize=16)  # a batch of messages is sent at one time
def _created_text(created: dt.datetime) -> str:
    return format_utc(created)


def header_segment(
    typ: str,
    origin: str,
    private_key: Ed25519PrivateKey,
    certificate_pem: bytes | str | None,
) -> bytes:
    """The base64url protected header of what `origin` signs (the same for all it signs)."""
    pem = certificate_pem.encode("ascii") if isinstance(certificate_pem, str) else certificate_pem
    return _header_segment(typ, origin, pem, _public_bytes(private_key))


@functools.lru_cache(maxsize=64)  # deriving the public key costs a tenth of a signature
def _public_bytes(private_key: Ed25519PrivateKey) -> bytes:
    return private_key.public_key().public_bytes_raw()


@functools.lru_cache(maxsize=64)
def _header_segment(typ: str, origin: str, pem: bytes | None, raw_key: bytes) -> bytes:
    header: dict[str, Any] = {"alg": ALGORITHM, "kid": origin, "typ": typ}
    if pem is not None:
        header["x5c"] = [_x5c_entry(pem, Ed25519PublicKey.from_public_bytes(raw_key))]
    return b64url(canonical_json(header))


def sign_compact(
    header: bytes, payload: bytes, private_key: Ed25519PrivateKey, max_bytes: int
) -> bytes:
    """RFC 7515 section 7.1 with Ed25519 (RFC 8037): header.payload.signature, base64url.
    Made here, as `open_envelope` reads it, rather than through a JWS library's generic path,
    which costs three times the signature itself."""
    if len(payload) > max_bytes:
        raise ValueError(f"the payload is {len(payload)} bytes, over the {max_bytes} limit")
    signing_input = header + b"." + b64url(payload)
    signed = signing_input + b"." + b64url(private_key.sign(signing_input))
    if len(signed) > max_bytes:
        raise ValueError(f"the signed envelope is {len(signed)} bytes, over the {max_bytes} limit")
    return signed


def b64url(data: bytes) -> bytes:
    """Base64url without padding: what `base64.urlsafe_b64encode(data).rstrip(b"=")` gives,
    without its two layers of Python (twice a message on each side)."""
    return binascii.b2a_base64(data, newline=False).translate(_TO_URLSAFE).rstrip(b"=")


def _x5c_entry(pem: bytes, public_key: Ed25519PublicKey) -> str:
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
    covered_by: str | None = None,
) -> Envelope:
    """Verify and parse one envelope addressed to `expected_destination`, or raise
    EnvelopeRejected. `max_age` may differ per priority class (a class left out has no limit);
    None means no age limit. Replays are the inbox's to refuse, by message id.

    `covered_by` names the origin whose signature over a frame holding these exact bytes was
    verified already (`sync.frame`): when the envelope's header names that origin, its own
    signature is not checked a second time; otherwise it is, as for any envelope."""
    if now.utcoffset() is None:
        raise ValueError("now must be an aware time, in UTC")
    if len(data) > max_bytes:
        raise EnvelopeRejected(Reason.OVERSIZED, f"{len(data)} bytes, over the {max_bytes} limit")
    header_segment, payload_segment, signature_segment = _segments(data)
    origin, cert_pem = _signer(header_segment, bool(signature_segment))
    if origin != covered_by:
        signature = signature_of(signature_segment, "signature")
        public_key = public_key_of(origin, cert_pem, key_for)
        # RFC 7515 section 5.2 for Ed25519: the signature over the first two segments as sent.
        # The header checks a JWS library makes are made above; its generic path costs more
        # than the signature itself, on the receiver's hot path.
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


@functools.lru_cache(maxsize=256)  # a node signs everything under the same header
def _signer(header_segment: bytes, signed: bool) -> tuple[str, bytes | None]:
    """The signer's id and certificate named by a header; refused ones are not remembered."""
    header = _json_object(_b64url(header_segment, "header"), "header")
    return _check_header(header, b"signature" if signed else b"")


def signature_of(segment: bytes, where: str) -> bytes:
    """The signature bytes, from their one base64url spelling: the unused low bits of the last
    character must be zero, so that no two byte strings carry one signature."""
    signature = _b64url(segment, where)
    if b64url(signature) != segment:
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: not canonical base64url")
    return signature


def public_key_of(origin: str, cert_pem: bytes | None, key_for: KeyLookup) -> Ed25519PublicKey:
    """The trust store's key for `origin`, or EnvelopeRejected(UNKNOWN_ORIGIN)."""
    try:
        public_key = key_for(origin, cert_pem)
    except Exception as error:  # the lookup is the trust store's: any refusal is "unknown"
        raise EnvelopeRejected(Reason.UNKNOWN_ORIGIN, f"{origin}: {error}") from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise EnvelopeRejected(Reason.UNKNOWN_ORIGIN, f"{origin}: no Ed25519 key")
    return public_key


_BASE64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
_FROM_URLSAFE = bytes.maketrans(b"-_", b"+/")
_TO_URLSAFE = bytes.maketrans(b"+/", b"-_")
_SEGMENTS_ALPHABET = _BASE64URL + b"."


def _segments(data: bytes) -> tuple[bytes, bytes, bytes]:
    data = bytes(data)
    # Two dots and nothing left once the base64url alphabet and the dots are deleted: three
    # base64url parts (some maybe empty), checked in one pass over the bytes.
    if data.count(b".") != 2 or data.translate(None, _SEGMENTS_ALPHABET):
        raise EnvelopeRejected(
            Reason.MALFORMED, "not a JWS Compact Serialization (three base64url parts)"
        )
    header, payload, signature = data.split(b".")
    return header, payload, signature


def _b64url(segment: bytes, where: str) -> bytes:
    # What base64.urlsafe_b64decode does, without its two layers of Python (each envelope).
    try:
        return binascii.a2b_base64(segment.translate(_FROM_URLSAFE) + b"=" * (-len(segment) % 4))
    except (binascii.Error, ValueError):
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: not base64url") from None


def _json_object(raw: bytes, where: str) -> dict[str, Any]:
    """The JSON object `raw` holds, refusing duplicate keys and NaN.

    What a sender of ours signs is canonical (`canonical_json`): parsed by orjson and written
    again, it gives the same bytes, which proves it has no duplicate key (a dict cannot write
    one) and no NaN. Anything else, canonical or not, goes through the json module with the
    duplicate check, which accepts or refuses exactly as before, with its reasons."""
    try:
        value = orjson.loads(raw)
    except orjson.JSONDecodeError:
        pass
    else:
        if type(value) is dict and canonical_json(value) == raw:
            return value
    return _json_object_checked(raw, where)


def _json_object_checked(raw: bytes, where: str) -> dict[str, Any]:
    try:
        value = json.loads(
            raw.decode("utf-8"), object_pairs_hook=refuse_duplicates, parse_constant=refuse_constant
        )
    except (ValueError, RecursionError) as error:
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: not JSON: {error}") from None
    if not isinstance(value, dict):
        raise EnvelopeRejected(Reason.MALFORMED, f"{where}: expected a JSON object")
    return value


def _check_header(
    header: dict[str, Any], signature_segment: bytes, typ: str = ENVELOPE_TYPE
) -> tuple[str, bytes | None]:
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
    if header.get("typ") != typ:
        raise EnvelopeRejected(Reason.MALFORMED, f"header.typ: expected {typ}")
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
    return _certificate_pem(x5c[0])


@functools.lru_cache(maxsize=256)  # every envelope of a node carries the same certificate
def _certificate_pem(x5c: str) -> bytes:
    try:
        der = base64.b64decode(x5c, validate=True)
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
    try:  # the usual: every field and the payload valid, in one pass
        envelope = Envelope.model_validate(content)
    except ValidationError:
        pass  # found again below, field by field, with the reasons
    else:
        _check_route(envelope, signer, expected_destination)
        limit = max_age.get(envelope.priority) if isinstance(max_age, Mapping) else max_age
        _check_age(envelope.created, now, limit, max_skew)
        _check_speaker(envelope.payload, envelope.type, signer)
        return envelope
    try:
        wire = _Wire.model_validate(content)
    except ValidationError as error:
        raise EnvelopeRejected(
            Reason.MALFORMED, "; ".join(describe_validation_error(error))
        ) from None
    _check_route(wire, signer, expected_destination)
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
    _check_speaker(payload, wire.type, signer)
    # Every field is validated already (`wire`), and the payload is of the type's model.
    fields = {name: getattr(wire, name) for name in _Fields.model_fields}
    return Envelope.model_construct(**fields, payload=payload)


def _check_route(
    content: _Fields, signer: str, expected_destination: str | Collection[str]
) -> None:
    if content.origin != signer:
        raise EnvelopeRejected(
            Reason.ORIGIN_MISMATCH, f"origin {content.origin} signed by {signer} (header.kid)"
        )
    if (
        content.destination != expected_destination
        if isinstance(expected_destination, str)
        else content.destination not in expected_destination
    ):
        raise EnvelopeRejected(Reason.WRONG_DESTINATION, f"addressed to {content.destination}")


def _check_speaker(payload: Message, message_type: str, signer: str) -> None:
    speaker = payload.speaks_for()
    if speaker is not None and speaker != signer:
        raise EnvelopeRejected(
            Reason.ORIGIN_MISMATCH, f"the {message_type} speaks for {speaker}, signed by {signer}"
        )


def _check_age(
    created: dt.datetime, now: dt.datetime, max_age: dt.timedelta | None, max_skew: dt.timedelta
) -> None:
    if created - now > max_skew:
        raise EnvelopeRejected(
            Reason.FROM_THE_FUTURE, f"created {created - now} ahead of this clock"
        )
    if max_age is not None and now - created > max_age:
        raise EnvelopeRejected(Reason.EXPIRED, f"created {now - created} ago, limit {max_age}")
