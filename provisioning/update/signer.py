"""The update-signing certificate: issued by the country's fleet CA, it signs RAUC bundles.

Its key is ECDSA P-256, not Ed25519 like the rest of the fleet: RAUC 1.8 signs with OpenSSL's
CMS_sign, which refuses an Ed25519 signer ("add signer error", pkey nid=1087), while verifying an
ECDSA certificate that an Ed25519 CA signed works (both checked with Debian's rauc 1.8 and
OpenSSL 3.0). It carries extendedKeyUsage codeSigning, which the box's system.conf requires
(check-purpose=codesign), so a node's TLS certificate from the same CA cannot sign an update.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from edge.timeutil import system_utcnow
from provisioning.identity.ca import CLOCK_SKEW, FleetCA, key_usage, load_ca
from provisioning.identity.certificates import save_certificate
from provisioning.identity.errors import IssueError
from provisioning.identity.files import PRIVATE, write_atomically

SIGNER_KEY = "update-signer.key"
SIGNER_CERT = "update-signer.crt"
SIGNER_DAYS = 730


@dataclass(frozen=True)
class SignerFiles:
    key: Path
    certificate: Path
    not_after: dt.datetime


def signer_common_name(country: str) -> str:
    return f"carec-edge update signer {country}"


def issue_signer(
    ca: FleetCA, *, days: int = SIGNER_DAYS, not_before: dt.datetime | None = None
) -> tuple[ec.EllipticCurvePrivateKey, x509.Certificate]:
    if days < 1:
        raise IssueError(f"validity of {days} days; give at least 1")
    key = ec.generate_private_key(ec.SECP256R1())
    start = not_before if not_before is not None else system_utcnow() - CLOCK_SKEW
    end = start + dt.timedelta(days=days)
    ca_end = ca.certificate.not_valid_after_utc
    if end > ca_end:
        raise IssueError(
            f"a signer of {days} days would outlive the CA (valid until {ca_end:%Y-%m-%d}); "
            "ask for fewer days"
        )
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, ca.country),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "carec-edge"),
            x509.NameAttribute(NameOID.COMMON_NAME, signer_common_name(ca.country)),
        ]
    )
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca.certificate.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(end)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
            critical=False,
        )
        .sign(ca.key, None)
    )
    return key, certificate


def issue_signer_files(ca_directory: Path, out: Path, *, days: int = SIGNER_DAYS) -> SignerFiles:
    """A new signer key and certificate in `out` (AlreadyExistsError if a key is there)."""
    key, certificate = issue_signer(load_ca(ca_directory), days=days)
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    key_path = write_atomically(out / SIGNER_KEY, pem, mode=PRIVATE)
    cert_path = save_certificate(certificate, out / SIGNER_CERT)
    return SignerFiles(key_path, cert_path, certificate.not_valid_after_utc)
