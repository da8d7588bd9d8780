"""Reading and writing X.509 certificates and CSRs as files (PEM) and from the wire (PEM or DER)."""

from __future__ import annotations

from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from provisioning.identity.errors import KeyFileError
from provisioning.identity.files import PUBLIC, write_atomically

CertificateData = x509.Certificate | bytes | str


def parse_certificate(data: CertificateData) -> x509.Certificate:
    """A certificate from PEM (bytes or text) or DER bytes; ValueError when it is neither."""
    if isinstance(data, x509.Certificate):
        return data
    raw = data.encode("ascii", "replace") if isinstance(data, str) else data
    if raw.lstrip().startswith(b"-----BEGIN"):
        return x509.load_pem_x509_certificate(raw)
    return x509.load_der_x509_certificate(raw)


def certificate_pem(certificate: x509.Certificate) -> bytes:
    return certificate.public_bytes(serialization.Encoding.PEM)


def save_certificate(certificate: x509.Certificate, path: Path, *, overwrite: bool = True) -> Path:
    """Certificates are public: mode 0644, and a renewal replaces the old file by default."""
    return write_atomically(path, certificate_pem(certificate), mode=PUBLIC, overwrite=overwrite)


def load_certificate(path: Path) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(_read(path, "certificate"))
    except ValueError as error:
        raise KeyFileError(f"{path}: not a PEM certificate ({error})") from None


def load_csr(path: Path) -> x509.CertificateSigningRequest:
    try:
        return x509.load_pem_x509_csr(_read(path, "CSR"))
    except ValueError as error:
        raise KeyFileError(f"{path}: not a PEM certificate signing request ({error})") from None


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise KeyFileError(f"{path}: cannot read the {what} ({error.strerror})") from None
