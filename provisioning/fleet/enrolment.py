"""The box's side of enrolment: from no identity to a certificate of the country's CA.

    enrolment = BoxEnrolment(client, "KZ-NURZHOLY-1", hardware_serial(), BoxPaths.of(...))
    code = enrolment.prepare()        # key and CSR (made if none), and the code to show
    answer = enrolment.request()      # pending (the operator compares the code), or enrolled
    answer = enrolment.wait(stop)     # asks again every retry_after_s until decided
    enrolment.install(answer)         # node.crt, the trust store and the CA bundle, atomically

`renew_if_due` renews the certificate with the same key, with a proof by it, when it ends
within the given days; `renew` takes any CSR (a new key: `key_rotation`). The centre's
answers are checked before anything is written: the certificate must be of this node and this
key, and signed by a CA of the trust store that comes with it.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import threading
import tomllib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from pydantic import ValidationError

from edge.timeutil import system_utcnow, utcnow
from provisioning.fleet import key_rotation
from provisioning.fleet.enrolment_protocol import (
    SERIAL_PATTERN,
    EnrolmentAnswer,
    EnrolmentRequest,
    Proof,
    StatusRequest,
    enrolment_code,
    make_proof,
)
from provisioning.identity.certificates import load_csr
from provisioning.identity.csr import NODE_CERT, NODE_CSR, NODE_KEY, create_csr, init_node
from provisioning.identity.errors import IdentityError
from provisioning.identity.files import PUBLIC, write_atomically
from provisioning.identity.keys import load_private_key, raw_public_key
from provisioning.identity.node_id import NodeId
from provisioning.identity.trust import TrustedCA, TrustStore

DMI_SERIAL = Path("/sys/class/dmi/id/product_serial")
MACHINE_ID = Path("/etc/machine-id")
CA_BUNDLE = "ca-bundle.pem"
PEERS_FILE = "sync-peers.toml"
ENROLMENT_PATH = "/fleet/v1/enrolment"
STATUS_PATH = "/fleet/v1/enrolment/status"
# What firmware writes where it has no serial.
_PLACEHOLDERS = {
    "", "none", "0", "default string", "not specified", "not applicable", "system serial number",
    "to be filled by o.e.m.", "0123456789", "123456789",
}  # fmt: skip


class EnrolmentFailedError(Exception):
    """The centre could not be asked, or refused the request itself (not the box): why."""


class NotEnrolledError(Exception):
    """The centre refused or revoked this box; an operator must act. `answer` says why."""

    def __init__(self, answer: EnrolmentAnswer) -> None:
        super().__init__(f"{answer.node_id}: {answer.state}: {answer.reason or 'no reason given'}")
        self.answer = answer


def hardware_serial(dmi: Path = DMI_SERIAL, machine_id: Path = MACHINE_ID) -> str:
    """The board's serial (DMI), or this installation's machine id where there is none (or it
    cannot be read: only root reads the DMI serial)."""
    for path in (dmi, machine_id):
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if text.lower() in _PLACEHOLDERS:
            continue
        text = re.sub(r"\s+", "-", text)[:64]
        if re.match(SERIAL_PATTERN, text):
            return text
    raise EnrolmentFailedError(
        f"no hardware serial in {dmi} nor {machine_id}; give one (--serial, or as configured)"
    )


@dataclass(frozen=True)
class BoxPaths:
    identity_dir: Path  # node.key, node.csr, node.crt
    trust_store: Path  # the trust store's TOML; its CA files go beside it
    ca_bundle: Path  # the CAs in one PEM, for the brokers' TLS (the peers' ca_file)
    peers_file: Path  # the [[sync.peers]] the centre gives, to merge into the config

    @classmethod
    def of(cls, identity_dir: Path, trust_store: Path) -> BoxPaths:
        return cls(identity_dir, trust_store, identity_dir / CA_BUNDLE, identity_dir / PEERS_FILE)


class BoxEnrolment:
    def __init__(
        self,
        client: httpx.Client,
        node_id: str,
        serial: str,
        paths: BoxPaths,
        *,
        clock: Callable[[], dt.datetime] = utcnow,
    ) -> None:
        """`client` has the centre's base URL (and the CA that verifies its TLS)."""
        self.client = client
        self.node_id = str(NodeId.parse(node_id))
        if not re.match(SERIAL_PATTERN, serial):
            raise EnrolmentFailedError(
                f"serial {serial!r}: letters, digits and ._:- only, 64 at most"
            )
        self.serial = serial
        self.paths = paths
        self.clock = clock

    # -- the key and the request --------------------------------------------------------------

    def prepare(self) -> str:
        """The box's key and CSR, made if there are none; the enrolment code of the key."""
        directory = self.paths.identity_dir
        if not (directory / NODE_KEY).exists() or not (directory / NODE_CSR).exists():
            init_node(NodeId.parse(self.node_id), directory, force=(directory / NODE_KEY).exists())
        csr = load_csr(directory / NODE_CSR)
        key = load_private_key(directory / NODE_KEY)
        public_key = csr.public_key()
        if not isinstance(public_key, Ed25519PublicKey) or raw_public_key(
            key.public_key()
        ) != raw_public_key(public_key):
            raise EnrolmentFailedError(f"{directory}: {NODE_CSR} is not of {NODE_KEY}")
        subject = csr.subject.rfc4514_string()
        if f"CN={self.node_id}" not in subject:
            raise EnrolmentFailedError(
                f"{directory / NODE_CSR} is for {subject}, not {self.node_id}; "
                "`carec-edge identity init --force` makes a new one"
            )
        return enrolment_code(key.public_key())

    def request(self) -> EnrolmentAnswer:
        body = EnrolmentRequest(serial=self.serial, csr=self._csr_pem())
        return self._post(ENROLMENT_PATH, body.model_dump(exclude_none=True))

    def status(self) -> EnrolmentAnswer:
        key = load_private_key(self.paths.identity_dir / NODE_KEY)
        proof = make_proof(key, "status", self.serial, now=self.clock())
        body = StatusRequest(serial=self.serial, proof=proof)
        return self._post(STATUS_PATH, body.model_dump())

    def wait(
        self,
        stop: threading.Event,
        *,
        on_pending: Callable[[EnrolmentAnswer], object] = lambda _answer: None,
        max_interval_s: float = 300.0,
    ) -> EnrolmentAnswer:
        """Ask until the operator decides (or `stop` is set: the last answer). NotEnrolledError
        when refused or revoked; a centre out of reach is asked again, less often."""
        interval = 5.0
        answer: EnrolmentAnswer | None = None
        asked = False  # the centre holds the request: ask how it stands (else send it again)
        while True:
            try:
                answer = self.status() if asked else self.request()
                asked = True
                interval = float(answer.retry_after_s or 30)
            except EnrolmentFailedError:  # out of reach, or the request expired there
                asked = False
                interval = min(interval * 2, max_interval_s)
            if asked and answer is not None:
                if answer.state == "enrolled":
                    return answer
                if answer.state in ("refused", "revoked"):
                    raise NotEnrolledError(answer)
                on_pending(answer)
            if stop.wait(min(interval, max_interval_s)):
                if answer is None:
                    raise EnrolmentFailedError("stopped before the centre answered")
                return answer

    # -- renewal ---------------------------------------------------------------------------------

    def renew(self, csr_pem: bytes) -> EnrolmentAnswer:
        """A certificate for `csr_pem` (this node's), asked with a proof by the current key."""
        key = load_private_key(self.paths.identity_dir / NODE_KEY)
        text = csr_pem.decode("ascii")
        proof: Proof = make_proof(key, "renew", self.serial, csr_pem=text, now=self.clock())
        body = EnrolmentRequest(serial=self.serial, csr=text, proof=proof)
        return self._post(ENROLMENT_PATH, body.model_dump())

    def complete_rotation(self) -> EnrolmentAnswer | None:
        """When a key rotation waits (`key_rotation.start`): the certificate of the next key,
        asked with a proof by the current one, put in place with its key; None when none waits."""
        directory = self.paths.identity_dir
        csr_path = directory / key_rotation.NEXT_CSR
        if not csr_path.exists():
            return None
        answer = self.renew(csr_path.read_bytes())
        next_key = load_private_key(directory / key_rotation.NEXT_KEY)
        certificate = self._checked(answer, next_key.public_key())
        self._install_trust(answer)
        key_rotation.complete(directory, x509.load_pem_x509_certificate(certificate))
        return answer

    def renew_if_due(self, within_days: int) -> EnrolmentAnswer | None:
        """Renew (same key) when the certificate ends within `within_days`, and install it;
        the answer, or None when not due."""
        certificate = x509.load_pem_x509_certificate(
            (self.paths.identity_dir / NODE_CERT).read_bytes()
        )
        # X.509 validity is on the operating system's clock (edge.timeutil).
        if certificate.not_valid_after_utc - system_utcnow() > dt.timedelta(days=within_days):
            return None
        key = load_private_key(self.paths.identity_dir / NODE_KEY)
        csr = create_csr(key, NodeId.parse(self.node_id)).public_bytes(serialization.Encoding.PEM)
        answer = self.renew(csr)
        if answer.state != "enrolled":
            raise NotEnrolledError(answer)
        self.install(answer)
        return answer

    # -- the answer ------------------------------------------------------------------------------

    def install(self, answer: EnrolmentAnswer) -> Path:
        """Check the enrolled answer, then write the CA files, the trust store, the CA bundle,
        the peers and last node.crt (each atomically); the certificate's path."""
        key = load_private_key(self.paths.identity_dir / NODE_KEY)
        certificate_pem = self._checked(answer, key.public_key())
        self._install_trust(answer)
        return write_atomically(self.paths.identity_dir / NODE_CERT, certificate_pem, mode=PUBLIC,
                                overwrite=True)  # fmt: skip

    def _install_trust(self, answer: EnrolmentAnswer) -> None:
        directory = self.paths.trust_store.parent
        for file in answer.trust_files:
            write_atomically(directory / file.name, file.certificate.encode(), mode=PUBLIC,
                             overwrite=True)  # fmt: skip
        write_atomically(self.paths.ca_bundle, (answer.ca_bundle or "").encode(), mode=PUBLIC,
                         overwrite=True)  # fmt: skip
        write_atomically(self.paths.trust_store, (answer.trust_store or "").encode(),
                         mode=PUBLIC, overwrite=True)  # fmt: skip
        write_atomically(self.paths.peers_file, peers_toml(answer, self.paths.ca_bundle).encode(),
                         mode=PUBLIC, overwrite=True)  # fmt: skip

    def _checked(self, answer: EnrolmentAnswer, key: Ed25519PublicKey) -> bytes:
        """The answer's certificate, once it is known to be this node's, of `key`, and signed
        by a CA of the trust store that came with it."""
        if answer.state != "enrolled" or not answer.certificate or not answer.trust_store:
            raise NotEnrolledError(answer)
        try:
            trust = trust_store_of(answer)
            identity = trust.verify_certificate(answer.certificate.encode(), at=system_utcnow())
        except (IdentityError, ValueError) as error:
            raise EnrolmentFailedError(f"the centre's answer does not hold: {error}") from None
        if str(identity.node_id) != self.node_id:
            raise EnrolmentFailedError(
                f"the certificate is of {identity.node_id}, not {self.node_id}"
            )
        if raw_public_key(identity.public_key) != raw_public_key(key):
            raise EnrolmentFailedError("the certificate is not of this box's key")
        return answer.certificate.encode()

    def _csr_pem(self) -> str:
        return (self.paths.identity_dir / NODE_CSR).read_text(encoding="ascii")

    def _post(self, path: str, body: dict[str, object]) -> EnrolmentAnswer:
        try:
            response = self.client.post(path, json=body)
        except httpx.HTTPError as error:
            raise EnrolmentFailedError(f"the centre cannot be reached: {error}") from None
        try:
            data = response.json()
        except ValueError:
            data = None
        if response.status_code in (200, 202) or (
            response.status_code == 403 and isinstance(data, dict) and "state" in data
        ):
            try:
                return EnrolmentAnswer.model_validate(data)
            except ValidationError as error:
                raise EnrolmentFailedError(f"the centre's answer is not one: {error}") from None
        detail = data.get("detail") if isinstance(data, dict) else response.text[:300]
        raise EnrolmentFailedError(f"the centre answered {response.status_code}: {detail}")


def trust_store_of(answer: EnrolmentAnswer) -> TrustStore:
    """The trust store the answer's TOML and CA files make, in memory (TrustStoreError or
    UntrustedError when they do not make one)."""
    document = tomllib.loads(answer.trust_store or "")
    files = {f.name: f.certificate for f in answer.trust_files}
    authorities = []
    for entry in document.get("authority", []):
        pem = files.get(entry.get("certificate"))
        if pem is None:
            raise ValueError(f"trust store: authority {entry.get('certificate')!r} is not sent")
        certificate = x509.load_pem_x509_certificate(pem.encode())
        authorities.append(TrustedCA(certificate, frozenset(entry.get("countries", []))))
    return TrustStore(authorities=tuple(authorities))


def peers_toml(answer: EnrolmentAnswer, ca_bundle: Path) -> str:
    """The centre's peers as [[sync.peers]] tables of carec-edge.toml."""
    blocks = []
    for peer in answer.peers:
        destinations = ", ".join(json.dumps(d) for d in peer.destinations)
        blocks.append(
            f"[[sync.peers]]\nname = {json.dumps(peer.name)}\nhost = {json.dumps(peer.host)}\n"
            f"port = {peer.port}\nca_file = {json.dumps(str(ca_bundle))}\n"
            f"destinations = [{destinations}]\n"
        )
    return "\n".join(blocks)
