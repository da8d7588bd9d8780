"""What the centre no longer trusts: every revoked box of its fleet (fleet_boxes, state
`revoked`), as the CA's CRL for the broker and as revocations for the centre's own inbox.

The CRL (PEM, signed by the country's CA, one entry per revoked certificate) goes where the
broker's listener reads it (`crlfile`). mosquitto 2.0 reads its CRL when the listener starts
and again on SIGHUP (`systemctl reload mosquitto`): a revoked box is refused at its next
connection after that; a connection already open stays open until it ends. OpenSSL refuses
every client once the CRL's next update has passed, so `refresh_crl` re-signs it daily.

The centre's inbox checks each box's certificate against its trust store (cached,
`sync.setup.TrustedKeys`); `CentreRevocations.refresh` adds the store's revocations to it (its
own boxes' and those partner centres revoked, `centre.fleet.partner_revocation`) and forgets
the cache, on the instance that revoked at once, on the others at their next refresh.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, select

from centre.fleet.partner_revocation import partner_revocations
from centre.store.schema import fleet_boxes
from edge.logs import error_first_line, log_event
from edge.timeutil import system_utcnow
from provisioning.identity.ca import FleetCA
from provisioning.identity.files import PUBLIC, write_atomically
from provisioning.identity.keys import fingerprint
from provisioning.identity.trust import Revocations
from sync.setup import TrustedKeys

log = logging.getLogger(__name__)

REVOKED = "revoked"


@dataclass(frozen=True)
class Revoked:
    node_id: str
    serial: int
    key_fingerprint: bytes | None  # SHA-256 of the certificate's raw public key
    revoked_at: dt.datetime

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")


def revoked_boxes(conn: Connection) -> list[Revoked]:
    """Every revoked box that had a certificate, oldest revocation first."""
    rows = conn.execute(
        select(
            fleet_boxes.c.node_id, fleet_boxes.c.certificate_serial, fleet_boxes.c.certificate,
            fleet_boxes.c.decided_at, fleet_boxes.c.created_at,
        )
        .where(fleet_boxes.c.state == REVOKED, fleet_boxes.c.certificate_serial.is_not(None))
        .order_by(fleet_boxes.c.decided_at, fleet_boxes.c.node_id)
    )  # fmt: skip
    return [
        Revoked(
            row.node_id,
            int(row.certificate_serial, 16),
            certificate_key_fingerprint(row.certificate),
            row.decided_at or row.created_at,
        )
        for row in rows
    ]


def certificate_key_fingerprint(pem: str | None) -> bytes | None:
    if not pem:
        return None
    key = x509.load_pem_x509_certificate(pem.encode()).public_key()
    return fingerprint(key).digest if isinstance(key, Ed25519PublicKey) else None


def as_revocations(revoked: Sequence[Revoked]) -> Revocations:
    return Revocations(
        serials=frozenset(r.serial for r in revoked),
        key_fingerprints=frozenset(r.key_fingerprint for r in revoked if r.key_fingerprint),
    )


def merged(*parts: Revocations) -> Revocations:
    return Revocations(
        serials=frozenset().union(*(p.serials for p in parts)),
        key_fingerprints=frozenset().union(*(p.key_fingerprints for p in parts)),
    )


# --- the CRL --------------------------------------------------------------------------------


def build_crl(
    ca: FleetCA, revoked: Sequence[Revoked], *, days: int, now: dt.datetime
) -> x509.CertificateRevocationList:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.certificate.subject)
        .last_update(now)
        .next_update(now + dt.timedelta(days=days))
        .add_extension(x509.CRLNumber(int(now.timestamp())), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )
    for box in revoked:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder()
            .serial_number(box.serial)
            .revocation_date(min(box.revoked_at, now))
            .build()
        )
    return builder.sign(ca.key, None)


def write_crl(
    ca: FleetCA, revoked: Sequence[Revoked], path: Path, *, days: int, now: dt.datetime
) -> Path:
    """The CRL of `revoked`, valid `days`, written atomically (the broker never reads half)."""
    crl = build_crl(ca, revoked, days=days, now=now)
    return write_atomically(path, crl.public_bytes(serialization.Encoding.PEM), mode=PUBLIC,
                            overwrite=True)  # fmt: skip


def refresh_crl(engine: Engine, ca: FleetCA, path: Path, *, days: int) -> Path:
    """Re-sign the CRL from the store (a daily job; also after every revocation)."""
    with engine.connect() as conn:
        revoked = revoked_boxes(conn)
    return write_crl(ca, revoked, path, days=days, now=system_utcnow())  # OpenSSL's clock


def reload_broker(command: Sequence[str]) -> bool:
    """Run the command that makes the broker reread the CRL; False (logged) when it failed.
    The CRL is written whatever comes of it: the next reload, or a restart, reads it."""
    if not command:
        return False
    try:
        done = subprocess.run(list(command), capture_output=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as error:
        log_event(log, logging.ERROR, "fleet.broker_reload_failed", error=error_first_line(error))
        return False
    if done.returncode != 0:
        log_event(log, logging.ERROR, "fleet.broker_reload_failed", status=done.returncode,
                  error=done.stderr.decode(errors="replace").strip()[-200:])  # fmt: skip
        return False
    log_event(log, logging.INFO, "fleet.broker_reloaded")
    return True


def load_crl(path: Path) -> x509.CertificateRevocationList:
    return x509.load_pem_x509_crl(path.read_bytes())


# --- the centre's own inbox -------------------------------------------------------------------


def stored_revocations(conn: Connection) -> Revocations:
    """The store's revocations: this fleet's revoked boxes and the partners' (checked)."""
    return merged(as_revocations(revoked_boxes(conn)), partner_revocations(conn))


class CentreRevocations:
    """Keeps the centre's key lookup refusing every revoked box: the trust store file's own
    revocations plus the store's. `refresh` after a revocation and now and then (another
    instance may have revoked); `add` puts a partner's in at once, as its inbox applies it."""

    def __init__(self, engine: Engine, keys: TrustedKeys) -> None:
        self.engine = engine
        self.keys = keys
        self._base = keys.trust
        self._known: Revocations | None = None

    def refresh(self) -> bool:
        """Read the store's revocations; when they changed, put them in (forgetting the key
        cache). Whether they changed."""
        with self.engine.connect() as conn:
            current = stored_revocations(conn)
        if current == self._known:
            return False
        self._known = current
        revoked = merged(self._base.revoked, current)
        self.keys.replace(dataclasses.replace(self._base, revoked=revoked))
        return True

    def add(self, revocations: Revocations) -> None:
        """Refuse these from now on, before their transaction commits (a partner's, applied by
        the inbox); the next refresh reads the store again whatever it held, so what a rolled
        back transaction added goes then."""
        self._known = None
        trust = self.keys.trust
        self.keys.replace(dataclasses.replace(trust, revoked=merged(trust.revoked, revocations)))
