"""What a box and its centre say to each other when the box joins the fleet: the HTTP bodies of
/fleet/v1/enrolment (after EST, RFC 7030, in JSON), the enrolment code both screens show, and
the proofs that a request comes from the holder of a key.

    POST /fleet/v1/enrolment          {serial, csr}              a new box asks to join
                                      {serial, csr, proof}       an enrolled box renews
    POST /fleet/v1/enrolment/status   {serial, proof}            the box asks what came of it

A proof is an Ed25519 signature by the box's key (the CSR's, or for a renewal the current
certificate's) over `carec-edge enrolment <purpose>`, the serial, a UTC timestamp and, for a
renewal, the SHA-256 of the new CSR, one per line. The centre takes a timestamp within
PROOF_WINDOW of its clock.

The enrolment code is the first 60 bits of the SHA-256 of the box's public key in base32,
`XXXX-XXXX-XXXX`: the operator approves the box whose screen shows what the console shows.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import hashlib
import re
from typing import Annotated, Literal

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from edge.timeutil import format_utc, parse_utc
from provisioning.identity.keys import fingerprint

PROOF_WINDOW = dt.timedelta(minutes=5)
MAX_CSR_CHARS = 4000  # an Ed25519 CSR in PEM is under 600
SERIAL_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"

Serial = Annotated[str, StringConstraints(pattern=SERIAL_PATTERN)]
Purpose = Literal["status", "renew"]
State = Literal["pending", "enrolled", "refused", "revoked"]

_CODE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}-[A-Z2-7]{4}$")


def enrolment_code(key: Ed25519PublicKey) -> str:
    """`XXXX-XXXX-XXXX` from the key's fingerprint, for people to compare."""
    head = fingerprint(key).base32[:12]
    return "-".join(head[i : i + 4] for i in range(0, 12, 4))


def is_enrolment_code(text: str) -> bool:
    return bool(_CODE.match(text))


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Proof(_Body):
    timestamp: Annotated[str, Field(min_length=20, max_length=40)]  # ISO 8601 UTC, ...Z
    signature: Annotated[str, Field(min_length=80, max_length=100)]  # base64, 64 bytes


class EnrolmentRequest(_Body):
    serial: Serial
    csr: Annotated[str, Field(min_length=1, max_length=MAX_CSR_CHARS)]
    proof: Proof | None = None  # a renewal, by the current certificate's key


class StatusRequest(_Body):
    serial: Serial
    proof: Proof


class TrustFile(_Body):
    """One CA certificate of the trust store, with the name the store's TOML gives it."""

    name: Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")]
    certificate: Annotated[str, Field(max_length=20_000)]


class BoxPeer(_Body):
    """A [[sync.peers]] entry for the box; the box adds its CA bundle as ca_file."""

    name: str
    host: str
    port: int
    destinations: list[str]


class EnrolmentAnswer(_Body):
    """What the centre says of a box: waiting for an operator (with the code to compare),
    refused or revoked (with the reason), or enrolled (with all the box needs to join)."""

    state: State
    node_id: str
    code: str | None = None
    reason: str | None = None
    certificate: str | None = None  # PEM
    ca_bundle: str | None = None  # PEM: the broker's TLS trusts these
    trust_store: str | None = None  # TOML text, naming the trust_files beside it
    trust_files: list[TrustFile] = []
    peers: list[BoxPeer] = []
    report_to: str | None = None  # the centre's node id: health goes there, commands come from it
    update_url: str | None = Field(default=None, pattern=r"^https://[^\s]+$", max_length=500)
    retry_after_s: int | None = None


def proof_message(purpose: Purpose, serial: str, timestamp: str, csr_pem: str = "") -> bytes:
    digest = hashlib.sha256(csr_pem.encode()).hexdigest() if csr_pem else ""
    return f"carec-edge enrolment {purpose}\n{serial}\n{timestamp}\n{digest}".encode()


def make_proof(
    key: Ed25519PrivateKey,
    purpose: Purpose,
    serial: str,
    *,
    csr_pem: str = "",
    now: dt.datetime,
) -> Proof:
    timestamp = format_utc(now)
    signature = key.sign(proof_message(purpose, serial, timestamp, csr_pem))
    return Proof(timestamp=timestamp, signature=base64.b64encode(signature).decode("ascii"))


class ProofError(ValueError):
    """A proof the centre does not take, and why."""


def check_proof(
    proof: Proof,
    key: Ed25519PublicKey,
    purpose: Purpose,
    serial: str,
    *,
    csr_pem: str = "",
    now: dt.datetime,
) -> None:
    """Raises ProofError unless `key` signed this proof within PROOF_WINDOW of `now`."""
    try:
        at = parse_utc(proof.timestamp)
    except ValueError:
        raise ProofError("proof.timestamp: not an ISO 8601 UTC time") from None
    if abs(now - at) > PROOF_WINDOW:
        raise ProofError(
            f"proof.timestamp: {proof.timestamp} is more than "
            f"{int(PROOF_WINDOW.total_seconds() // 60)} minutes from the centre's clock "
            f"({format_utc(now)}); set the box's clock"
        )
    try:
        signature = base64.b64decode(proof.signature, validate=True)
    except binascii.Error:
        raise ProofError("proof.signature: not base64") from None
    try:
        key.verify(signature, proof_message(purpose, serial, proof.timestamp, csr_pem))
    except InvalidSignature:
        raise ProofError("proof.signature: not made by this box's key") from None
