"""A country's fleet CA, for tests, demos and small fleets: `carec-edge ca init` and `ca issue`.

The CA is an Ed25519 key (`ca.key`, 0600, unencrypted: keep the directory offline) and its
self-signed certificate (`ca.crt`, "carec-edge fleet CA <country>", CA:true with pathlen 0,
keyCertSign and cRLSign). It issues for nodes of its own country only. It trusts nothing in a CSR
but the node id and the key: names and usages are the CA's own, from the node id.

Node certificates are Ed25519 too, with clientAuth, and with `servers` (host names or IP
addresses) also serverAuth and those names, so the same CA issues the broker's certificate.
The node's envelope-signing key is its TLS key: OpenSSL 3 (Python's ssl, and Debian's
mosquitto 2.0.11) does Ed25519 certificates in TLS 1.3 and 1.2 with mutual authentication
(checked against a real broker in tests/integration/test_identity_cli.py), so no second key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.x509.oid import ExtendedKeyUsageOID

from edge.codes import COUNTRIES_ALPHA2
from edge.timeutil import system_utcnow
from provisioning.identity.certificates import load_certificate, load_csr, save_certificate
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.errors import (
    AlreadyExistsError,
    IdentityError,
    InvalidNodeIdError,
    IssueError,
    KeyFileError,
)
from provisioning.identity.keys import (
    generate_key,
    load_private_key,
    raw_public_key,
    save_private_key,
)
from provisioning.identity.node_id import NodeId
from provisioning.identity.profile import (
    ca_subject,
    country_of,
    node_alt_names,
    node_id_of,
    node_subject,
)

CA_KEY = "ca.key"
CA_CERT = "ca.crt"
CA_DAYS = 3650
NODE_DAYS = 365
# Certificates start a little in the past, so a box whose clock runs behind still accepts them.
CLOCK_SKEW = dt.timedelta(minutes=10)

_HOST_NAME = re.compile(r"^(?!-)[a-z0-9-]{1,63}(?<!-)(\.(?!-)[a-z0-9-]{1,63}(?<!-))*$")


@dataclass(frozen=True)
class Issued:
    node_id: NodeId
    certificate: x509.Certificate
    path: Path | None = None


@dataclass(frozen=True)
class FleetCA:
    country: str
    key: Ed25519PrivateKey
    certificate: x509.Certificate

    def issue(
        self,
        csr: x509.CertificateSigningRequest,
        *,
        days: int = NODE_DAYS,
        servers: Sequence[str] = (),
        not_before: dt.datetime | None = None,
    ) -> Issued:
        """A node certificate for `csr`, valid `days` from `not_before` (default: now, less the
        clock skew); IssueError names why the CA refuses."""
        node_id, public_key = self._check_request(csr)
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH]
        alt_names = node_alt_names(node_id)
        if servers:
            usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
            alt_names += [server_alt_name(server) for server in servers]
        start = not_before if not_before is not None else system_utcnow() - CLOCK_SKEW
        end = start + _days(days)
        self._check_within_validity(start, end, days)
        certificate = (
            x509.CertificateBuilder()
            .subject_name(node_subject(node_id))
            .issuer_name(self.certificate.subject)
            .public_key(public_key)
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(key_usage(digital_signature=True), critical=True)
            .add_extension(x509.ExtendedKeyUsage(usages), critical=False)
            .add_extension(x509.SubjectAlternativeName(alt_names), critical=False)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .sign(self.key, None)
        )
        return Issued(node_id, certificate)

    def _check_within_validity(self, start: dt.datetime, end: dt.datetime, days: int) -> None:
        ca_start = self.certificate.not_valid_before_utc
        ca_end = self.certificate.not_valid_after_utc
        if system_utcnow() > ca_end and end > ca_end:
            raise IssueError(f"the CA expired on {ca_end:%Y-%m-%d}; create a new one")
        if end > ca_end:
            raise IssueError(
                f"a certificate of {days} days would outlive the CA (valid until "
                f"{ca_end:%Y-%m-%d}); ask for fewer days"
            )
        if start < ca_start:
            raise IssueError(f"a certificate cannot start before its CA ({ca_start:%Y-%m-%d})")

    def _check_request(
        self, csr: x509.CertificateSigningRequest
    ) -> tuple[NodeId, Ed25519PublicKey]:
        if not csr.is_signature_valid:
            raise IssueError("the CSR's signature does not verify: it was altered after signing")
        public_key = csr.public_key()
        if not isinstance(public_key, Ed25519PublicKey):
            raise IssueError(f"the CSR holds a {type(public_key).__name__}, not an Ed25519 key")
        try:
            node_id = node_id_of(csr)
        except InvalidNodeIdError as error:
            raise IssueError(f"the CSR does not name a node: {error}") from None
        if node_id.country != self.country:
            raise IssueError(
                f"the CSR is for {node_id}, a node of {node_id.country}; "
                f"this CA issues for {self.country} only"
            )
        return node_id, public_key


@dataclass(frozen=True)
class CaFiles:
    ca: FleetCA
    key: Path
    certificate: Path


def create_ca(
    country: str, *, days: int = CA_DAYS, not_before: dt.datetime | None = None
) -> FleetCA:
    if country not in COUNTRIES_ALPHA2:
        raise IdentityError(f"{country!r} is not an ISO 3166-1 alpha-2 country such as KZ")
    key = generate_key()
    public_key = key.public_key()
    start = not_before if not_before is not None else system_utcnow() - CLOCK_SKEW
    name = ca_subject(country)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + _days(days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(key_usage(key_cert_sign=True, crl_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(key, None)
    )
    return FleetCA(country, key, certificate)


def init_ca(
    country: str, directory: Path, *, days: int = CA_DAYS, not_before: dt.datetime | None = None
) -> CaFiles:
    """A new CA in `directory`; AlreadyExistsError if one is there (a CA key is never replaced)."""
    key_path, cert_path = directory / CA_KEY, directory / CA_CERT
    for path in (key_path, cert_path):
        if path.exists():
            raise AlreadyExistsError(f"{path} exists; a CA is never replaced, use another --dir")
    ca = create_ca(country, days=days, not_before=not_before)
    save_private_key(ca.key, key_path)
    save_certificate(ca.certificate, cert_path, overwrite=False)
    return CaFiles(ca, key_path, cert_path)


def load_ca(directory: Path) -> FleetCA:
    key = load_private_key(directory / CA_KEY)
    certificate = load_certificate(directory / CA_CERT)
    public_key = certificate.public_key()
    if not isinstance(public_key, Ed25519PublicKey) or raw_public_key(public_key) != raw_public_key(
        key.public_key()
    ):
        raise KeyFileError(f"{directory}: {CA_KEY} is not the key of {CA_CERT}")
    country = country_of(certificate.subject)
    if country is None:
        raise KeyFileError(f"{directory / CA_CERT}: the CA's subject names no country (C=)")
    return FleetCA(country, key, certificate)


def issue_file(
    ca_directory: Path,
    csr_path: Path,
    *,
    out: Path | None = None,
    days: int = NODE_DAYS,
    servers: Sequence[str] = (),
    not_before: dt.datetime | None = None,
) -> Issued:
    """Issue for the CSR at `csr_path`; the certificate goes to `out`, by default `node.crt`
    beside the CSR (replacing an older one: renewal)."""
    ca = load_ca(ca_directory)
    issued = ca.issue(load_csr(csr_path), days=days, servers=servers, not_before=not_before)
    path = save_certificate(issued.certificate, out or csr_path.with_name(NODE_CERT))
    return Issued(issued.node_id, issued.certificate, path)


def server_alt_name(server: str) -> x509.GeneralName:
    """An IP address or a DNS host name for a server certificate; IssueError when neither."""
    try:
        return x509.IPAddress(ipaddress.ip_address(server))
    except ValueError:
        pass
    if not _HOST_NAME.match(server.lower()):
        raise IssueError(f"server name {server!r} is neither a host name nor an IP address")
    return x509.DNSName(server.lower())


def _days(days: int) -> dt.timedelta:
    if days < 1:
        raise IssueError(f"validity of {days} days; give at least 1")
    return dt.timedelta(days=days)


def key_usage(
    *, digital_signature: bool = False, key_cert_sign: bool = False, crl_sign: bool = False
) -> x509.KeyUsage:
    """The key usages the fleet's certificates use (the rest always off)."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=key_cert_sign,
        crl_sign=crl_sign,
        encipher_only=False,
        decipher_only=False,
    )
