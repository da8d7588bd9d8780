"""Whom this node trusts: fleet CAs, each for the countries it may vouch for, pinned node keys for
peers without a CA, and what has been revoked.

The store is one TOML file; certificate paths are relative to it:

    [[authority]]                 # a CA, and the countries whose nodes it may vouch for
    certificate = "ca-KZ.crt"
    countries = ["KZ"]

    [[pinned]]                    # a peer without a CA: its node id and its Ed25519 key
    node = "KG-CIS"               # (the base64 of the raw 32 bytes, as `identity init` prints)
    public_key = "m1zV...="

    [revoked]
    serials = ["3f9a..."]         # certificate serial numbers, hex
    keys = ["c0ffee..."]          # SHA-256 key fingerprints, hex: every certificate and pin of it

A certificate is trusted when a listed CA of its node's country signed it directly, it and that CA
are within their validity at the time asked about, its CN, C and `urn:carec:node:` name agree,
its key is Ed25519, and neither its serial nor its key (nor the CA's) is revoked.
"""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from edge.codes import COUNTRIES_ALPHA2
from edge.timeutil import system_utcnow
from provisioning.identity.certificates import CertificateData, parse_certificate
from provisioning.identity.errors import (
    IdentityError,
    InvalidNodeIdError,
    Reason,
    TrustStoreError,
    UntrustedError,
)
from provisioning.identity.keys import decode_public_key, fingerprint, raw_public_key
from provisioning.identity.node_id import NodeId
from provisioning.identity.profile import node_id_of


@dataclass(frozen=True)
class Identity:
    """Who a trusted certificate says its holder is."""

    node_id: NodeId
    country: str
    public_key: Ed25519PublicKey
    not_after: dt.datetime
    serial: int
    issuer: str


@dataclass(frozen=True)
class TrustedCA:
    certificate: x509.Certificate
    countries: frozenset[str]

    def __post_init__(self) -> None:
        if not _is_ca(self.certificate):
            raise TrustStoreError(f"{self.name!r} is not a CA certificate (basicConstraints)")

    @property
    def name(self) -> str:
        return self.certificate.subject.rfc4514_string()


@dataclass(frozen=True)
class Revocations:
    serials: frozenset[int] = frozenset()
    key_fingerprints: frozenset[bytes] = frozenset()  # SHA-256 digests of raw public keys

    def reason(self, certificate: x509.Certificate) -> str | None:
        if certificate.serial_number in self.serials:
            return f"serial {certificate.serial_number:x} is revoked"
        public_key = certificate.public_key()
        if isinstance(public_key, Ed25519PublicKey):
            return self.key_reason(public_key)
        return None

    def key_reason(self, key: Ed25519PublicKey) -> str | None:
        digest = fingerprint(key)
        if digest.digest in self.key_fingerprints:
            return f"key {digest.short} is revoked"
        return None


@dataclass(frozen=True)
class TrustStore:
    authorities: tuple[TrustedCA, ...] = ()
    pinned: Mapping[NodeId, Ed25519PublicKey] = field(default_factory=dict)
    revoked: Revocations = Revocations()

    @classmethod
    def load(cls, path: Path) -> TrustStore:
        """The store of a TOML file (see the module docstring); TrustStoreError names the key."""
        return _load(path)

    def verify_certificate(
        self, certificate: CertificateData, *, at: dt.datetime | None = None
    ) -> Identity:
        """The identity a certificate proves at `at` (default now); UntrustedError says why not."""
        cert, node_id, public_key = _read_node_certificate(certificate)
        authority = self._issuer_of(cert, node_id)
        if node_id.country not in authority.countries:
            raise UntrustedError(
                Reason.WRONG_COUNTRY,
                f"{authority.name!r} vouches for {', '.join(sorted(authority.countries))}, "
                f"not for {node_id}",
            )
        moment = at if at is not None else system_utcnow()
        _check_validity(authority.certificate, f"CA {authority.name!r}", moment)
        _check_validity(cert, f"certificate of {node_id}", moment)
        for checked in (authority.certificate, cert):
            if (why := self.revoked.reason(checked)) is not None:
                raise UntrustedError(Reason.REVOKED, f"{node_id}: {why}")
        return Identity(
            node_id=node_id,
            country=node_id.country,
            public_key=public_key,
            not_after=cert.not_valid_after_utc,
            serial=cert.serial_number,
            issuer=authority.name,
        )

    def public_key_for(
        self,
        node_id: NodeId,
        certificate: CertificateData | None = None,
        *,
        at: dt.datetime | None = None,
    ) -> Ed25519PublicKey:
        """The key that signs for `node_id`: from its certificate, which must verify (and match
        the pin, if the node is pinned too), or without one from the node's pin."""
        pinned = self.pinned.get(node_id)
        if certificate is not None:
            identity = self.verify_certificate(certificate, at=at)
            if identity.node_id != node_id:
                raise UntrustedError(
                    Reason.NODE_MISMATCH, f"the certificate is of {identity.node_id}, not {node_id}"
                )
            if pinned is not None and not _same_key(pinned, identity.public_key):
                raise UntrustedError(
                    Reason.PINNED_KEY_MISMATCH,
                    f"{node_id}'s certificate holds key {fingerprint(identity.public_key)}, "
                    f"pinned is {fingerprint(pinned)}",
                )
            return identity.public_key
        if pinned is None:
            raise UntrustedError(
                Reason.UNKNOWN_NODE, f"{node_id} has no pinned key and sent no certificate"
            )
        if (why := self.revoked.key_reason(pinned)) is not None:
            raise UntrustedError(Reason.REVOKED, f"{node_id}: {why}")
        return pinned

    def _issuer_of(self, cert: x509.Certificate, node_id: NodeId) -> TrustedCA:
        named = [ca for ca in self.authorities if ca.certificate.subject == cert.issuer]
        if not named:
            raise UntrustedError(
                Reason.UNKNOWN_CA,
                f"{node_id}'s issuer {cert.issuer.rfc4514_string()!r} is not in the trust store",
            )
        for authority in named:
            if _signed_by(cert, authority.certificate):
                return authority
        raise UntrustedError(
            Reason.BAD_SIGNATURE,
            f"{node_id}'s certificate is not signed by the trusted {named[0].name!r}",
        )


def _read_node_certificate(
    certificate: CertificateData,
) -> tuple[x509.Certificate, NodeId, Ed25519PublicKey]:
    try:
        cert = parse_certificate(certificate)
    except ValueError:
        raise UntrustedError(Reason.MALFORMED, "not a PEM or DER X.509 certificate") from None
    try:
        node_id = node_id_of(cert, require_urn=True)
    except InvalidNodeIdError as error:
        raise UntrustedError(Reason.MALFORMED, str(error)) from None
    if _is_ca(cert):
        raise UntrustedError(Reason.MALFORMED, f"{node_id}: a CA certificate, not a node's")
    public_key = cert.public_key()
    if not isinstance(public_key, Ed25519PublicKey):
        raise UntrustedError(Reason.MALFORMED, f"{node_id}: the key is not Ed25519")
    return cert, node_id, public_key


def _signed_by(cert: x509.Certificate, issuer: x509.Certificate) -> bool:
    try:
        cert.verify_directly_issued_by(issuer)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _check_validity(cert: x509.Certificate, what: str, moment: dt.datetime) -> None:
    if moment < cert.not_valid_before_utc:
        raise UntrustedError(
            Reason.NOT_YET_VALID,
            f"{what} is valid from {cert.not_valid_before_utc:%Y-%m-%dT%H:%M:%SZ}",
        )
    if moment > cert.not_valid_after_utc:
        raise UntrustedError(
            Reason.EXPIRED, f"{what} expired at {cert.not_valid_after_utc:%Y-%m-%dT%H:%M:%SZ}"
        )


def _is_ca(cert: x509.Certificate) -> bool:
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    except x509.ExtensionNotFound:
        return False
    return constraints.value.ca


def _same_key(a: Ed25519PublicKey, b: Ed25519PublicKey) -> bool:
    return raw_public_key(a) == raw_public_key(b)


# --- the TOML file ----------------------------------------------------------------------------

_HEX = re.compile(r"(0x)?[0-9a-f]+")
_FINGERPRINT = re.compile(r"[0-9a-f]{64}")


class _Authority(BaseModel):
    model_config = ConfigDict(extra="forbid")
    certificate: str = Field(min_length=1)
    countries: list[str] = Field(min_length=1)

    @field_validator("countries")
    @classmethod
    def _countries(cls, countries: list[str]) -> list[str]:
        for country in countries:
            if country not in COUNTRIES_ALPHA2:
                raise ValueError(f"{country!r} is not an ISO 3166-1 alpha-2 country such as KZ")
        return countries


class _Pin(BaseModel):
    model_config = ConfigDict(extra="forbid")
    node: str
    public_key: str

    @field_validator("node")
    @classmethod
    def _node(cls, node: str) -> str:
        NodeId.parse(node)
        return node

    @field_validator("public_key")
    @classmethod
    def _public_key(cls, text: str) -> str:
        decode_public_key(text)
        return text


class _Revoked(BaseModel):
    model_config = ConfigDict(extra="forbid")
    serials: list[str] = []
    keys: list[str] = []

    @field_validator("serials")
    @classmethod
    def _serials(cls, serials: list[str]) -> list[str]:
        for serial in serials:
            if not _HEX.fullmatch(serial.lower()):
                raise ValueError(f"serial {serial!r} is not hexadecimal")
        return serials

    @field_validator("keys")
    @classmethod
    def _keys(cls, keys: list[str]) -> list[str]:
        for key in keys:
            if not _FINGERPRINT.fullmatch(key.lower()):
                raise ValueError(f"{key!r} is not a SHA-256 key fingerprint (64 hex digits)")
        return keys


class _TrustFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    authority: list[_Authority] = []
    pinned: list[_Pin] = []
    revoked: _Revoked = _Revoked()


def _load(path: Path) -> TrustStore:
    try:
        document = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise TrustStoreError(f"{path}: cannot read the trust store ({error.strerror})") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise TrustStoreError(f"{path}: not TOML ({error})") from None
    try:
        parsed = _TrustFile.model_validate(document)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in problem['loc'])}: "
            + str(problem["msg"]).removeprefix("Value error, ")
            for problem in error.errors()
        )
        raise TrustStoreError(f"{path}: {problems}") from None
    authorities = tuple(
        _authority(path, index, entry) for index, entry in enumerate(parsed.authority)
    )
    pinned: dict[NodeId, Ed25519PublicKey] = {}
    for index, pin in enumerate(parsed.pinned):
        node_id = NodeId.parse(pin.node)
        if node_id in pinned:
            raise TrustStoreError(f"{path}: pinned.{index}.node: {node_id} is pinned twice")
        pinned[node_id] = decode_public_key(pin.public_key)
    revoked = Revocations(
        serials=frozenset(
            int(serial.lower().removeprefix("0x"), 16) for serial in parsed.revoked.serials
        ),
        key_fingerprints=frozenset(bytes.fromhex(key) for key in parsed.revoked.keys),
    )
    return TrustStore(authorities, pinned, revoked)


def _authority(path: Path, index: int, entry: _Authority) -> TrustedCA:
    cert_path = path.parent / entry.certificate
    where = f"{path}: authority.{index}.certificate"
    try:
        certificate = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except OSError as error:
        raise TrustStoreError(f"{where}: cannot read {cert_path} ({error.strerror})") from None
    except ValueError:
        raise TrustStoreError(f"{where}: {cert_path} is not a PEM certificate") from None
    try:
        return TrustedCA(certificate, frozenset(entry.countries))
    except IdentityError as error:
        raise TrustStoreError(f"{where}: {error}") from None
