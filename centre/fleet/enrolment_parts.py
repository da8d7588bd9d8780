"""The pieces of enrolment (`centre.fleet.enrolment`): its errors and settings, a box's CSR as
the centre checks it, and the trust store every enrolled box is given."""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from centre.config import EnrolmentSection
from centre.fleet.revocation import merged
from provisioning.fleet.enrolment_protocol import BoxPeer, TrustFile, enrolment_code
from provisioning.identity.errors import InvalidNodeIdError
from provisioning.identity.profile import node_id_of
from provisioning.identity.trust import Revocations, TrustStore


class EnrolmentError(ValueError):
    """An operator's action the enrolments refuse, and why."""


class RequestRefusedError(Exception):
    """A box's request refused: the HTTP status and the reason the box is told."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


@dataclass(frozen=True)
class EnrolmentSettings:
    ca_dir: Path
    crl_file: Path
    trust_store: Path  # the centre's: its authorities and pins go to every box
    box_certificate_days: int = 365
    renew_within_days: int = 30
    max_pending: int = 1000
    pending_days: int = 30
    crl_days: int = 30
    reload_broker: tuple[str, ...] = ()  # the command that makes the broker reread the CRL
    box_peers: tuple[BoxPeer, ...] = ()
    update_url: str = ""  # where enrolled boxes fetch updates (TUF over mutual TLS)
    # The partner countries' centres ([[partners]]): each is sent a revoked box's certificate.
    partner_centres: tuple[str, ...] = ()

    @classmethod
    def of(
        cls, section: EnrolmentSection, trust_store: Path, partner_centres: Sequence[str] = ()
    ) -> EnrolmentSettings:
        return cls(
            ca_dir=section.ca_dir, crl_file=section.crl_path, trust_store=trust_store,
            box_certificate_days=section.box_certificate_days,
            renew_within_days=section.renew_within_days, max_pending=section.max_pending,
            pending_days=section.pending_days, crl_days=section.crl_days,
            reload_broker=tuple(section.reload_broker),
            box_peers=tuple(BoxPeer.model_validate(p.model_dump()) for p in section.box_peers),
            update_url=section.update_url, partner_centres=tuple(partner_centres),
        )  # fmt: skip


@dataclass(frozen=True)
class PendingBox:
    node_id: str
    serial: str
    code: str
    requested_at: dt.datetime


@dataclass(frozen=True)
class BoxCsr:
    pem: str
    request: x509.CertificateSigningRequest
    node_id: str
    key: Ed25519PublicKey

    @property
    def code(self) -> str:
        return enrolment_code(self.key)


def read_csr(pem: bytes | str, country: str) -> BoxCsr:
    """The box's CSR, checked: signed by its Ed25519 key, naming a node of `country`."""
    text = pem.decode("ascii", "replace") if isinstance(pem, bytes) else pem
    try:
        request = x509.load_pem_x509_csr(text.encode())
    except ValueError:
        raise RequestRefusedError(400, "csr: not a PEM certificate signing request") from None
    if not request.is_signature_valid:
        raise RequestRefusedError(400, "csr: its signature does not verify")
    key = request.public_key()
    if not isinstance(key, Ed25519PublicKey):
        raise RequestRefusedError(
            400, "csr: the key is not Ed25519 (`carec-edge identity init` makes one)"
        )
    try:
        node_id = node_id_of(request)
    except InvalidNodeIdError as error:
        raise RequestRefusedError(400, f"csr: names no node: {error}") from None
    if node_id.country != country:
        raise RequestRefusedError(400, f"csr: {node_id} is not a node of {country}")
    return BoxCsr(text, request, str(node_id), key)


def trust_for_boxes(path: Path, revocations: Revocations) -> tuple[list[TrustFile], str]:
    """The centre's trust store as a box gets it: its authorities (each file renamed by its
    countries), its pins, and every revocation (the file's and the store's)."""
    TrustStore.load(path)  # refuse to hand out a store that does not load
    document = tomllib.loads(path.read_text(encoding="utf-8"))
    files: list[TrustFile] = []
    lines: list[str] = []
    for index, authority in enumerate(document.get("authority", [])):
        countries = [str(c) for c in authority["countries"]]
        name = f"ca-{'-'.join(countries)}-{index}.crt"
        pem = (path.parent / authority["certificate"]).read_text(encoding="ascii")
        files.append(TrustFile(name=name, certificate=pem))
        lines += [
            "[[authority]]",
            f"certificate = {_q(name)}",
            f"countries = {_list(countries)}",
            "",
        ]
    for pin in document.get("pinned", []):
        lines += [
            "[[pinned]]",
            f"node = {_q(pin['node'])}",
            f"public_key = {_q(pin['public_key'])}",
            "",
        ]
    revoked = merged(TrustStore.load(path).revoked, revocations)
    serials = sorted(format(s, "x") for s in revoked.serials)
    keys = sorted(k.hex() for k in revoked.key_fingerprints)
    lines += ["[revoked]", f"serials = {_list(serials)}", f"keys = {_list(keys)}", ""]
    return files, "\n".join(lines)


def _q(text: str) -> str:
    return json.dumps(text)  # a TOML basic string: these are ids, base64 and hex


def _list(items: Sequence[str]) -> str:
    return "[" + ", ".join(_q(i) for i in items) + "]"
