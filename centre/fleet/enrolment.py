"""Boxes joining the fleet, renewing their certificates, and being revoked (fleet_boxes).

A box with no identity sends its hardware serial and a CSR naming its node id (`request`). A
serial the operator registered for that node id is enrolled at once: the country's CA issues
its certificate. Any other waits, `pending`, with the enrolment code of its key, until an
operator who sees the same code on the box's screen approves it or refuses it (with a reason;
a refused box stays refused until an operator resets it). The box learns what came of it by
asking with a proof that it holds the CSR's key (`status`), and, once enrolled, receives its
certificate, the CA bundle, the trust store and its sync peers.

An enrolled box renews its own certificate within `renew_within_days` of its end, with a new
CSR and a proof by its current certificate's key: same node id, same serial, no operator. A CSR
of a new key (the box rotates its key) is taken at any time with the same proof.

Revoking a box (`revoke`) marks it revoked, re-signs the CA's CRL for the broker, and sends a
`revocation` to every enrolled box of the country, and (with the revoked certificate) to every
partner centre (`partner_centres`, see `centre.fleet.partner_revocation`), through the outbox,
in one transaction; then the centre's own inbox refuses it (`on_revoked`, see
`centre.fleet.revocation`).

Every operator action is audited in its own transaction; the box's requests are logged with
node id and serial only.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Connection, Engine, delete, func, insert, select, update
from sqlalchemy.engine import Row
from sqlalchemy.exc import IntegrityError

from centre.audit import audit, checked_reason
from centre.fleet.enrolment_parts import (
    BoxCsr,
    EnrolmentError,
    EnrolmentSettings,
    PendingBox,
    RequestRefusedError,
    read_csr,
    trust_for_boxes,
)
from centre.fleet.revocation import (
    REVOKED,
    certificate_key_fingerprint,
    reload_broker,
    revoked_boxes,
    stored_revocations,
    write_crl,
)
from centre.store.schema import fleet_boxes
from edge.logs import log_event
from edge.timeutil import system_utcnow, utcnow
from provisioning.fleet.enrolment_protocol import (
    EnrolmentAnswer,
    Proof,
    ProofError,
    check_proof,
)
from provisioning.identity.ca import FleetCA, load_ca
from provisioning.identity.errors import InvalidNodeIdError, IssueError
from provisioning.identity.keys import raw_public_key
from provisioning.identity.node_id import NodeId
from provisioning.identity.trust import Revocations
from sync.messages import RevocationMessage
from sync.outbox import Outbox

log = logging.getLogger(__name__)

REGISTERED, PENDING, ENROLLED, REFUSED = "registered", "pending", "enrolled", "refused"
RETRY_AFTER_S = 30  # how often a waiting box asks again

# What the contract calls the answer to a box's request.
EnrolmentState = EnrolmentAnswer

__all__ = [  # the pieces live in centre.fleet.enrolment_parts, named from here
    "EnrolmentError", "EnrolmentSettings", "EnrolmentState", "Enrolments", "PendingBox",
    "RequestRefusedError",
]  # fmt: skip


class Enrolments:
    def __init__(
        self,
        engine: Engine,
        outbox: Outbox,
        settings: EnrolmentSettings,
        *,
        ca: FleetCA | None = None,
        clock: Callable[[], dt.datetime] = utcnow,
        on_revoked: Callable[[], object] | None = None,
    ) -> None:
        """Raises IdentityError when the CA in `settings.ca_dir` cannot be loaded."""
        self.engine = engine
        self.outbox = outbox
        self.settings = settings
        self.ca = ca or load_ca(settings.ca_dir)
        self.clock = clock
        self.on_revoked = on_revoked

    # -- the box's requests (HTTP) ------------------------------------------------------------

    def request(
        self, serial: str, csr_pem: bytes | str, proof: Proof | None = None
    ) -> EnrolmentState:
        """A box asks to join (or, with a proof, to renew). RequestRefusedError says why not."""
        csr = read_csr(csr_pem, self.ca.country)
        if proof is not None:
            return self._renew(serial, csr, proof)
        try:
            with self.engine.begin() as conn:
                return self._request(conn, serial, csr)
        except IntegrityError:  # another instance took the serial or node id meanwhile
            raise RequestRefusedError(
                409, "a request for this serial or node id came at once; ask again"
            ) from None

    def status(self, serial: str, proof: Proof) -> EnrolmentState:
        """What came of the request of `serial`, to the holder of its CSR's key."""
        with self.engine.connect() as conn:
            row = _by_serial(conn, serial)
        if row is None or row.csr is None:
            raise RequestRefusedError(404, f"no enrolment request from serial {serial}")
        key = read_csr(row.csr, self.ca.country).key
        try:
            check_proof(proof, key, "status", serial, now=self.clock())
        except ProofError as error:
            log_event(log, logging.WARNING, "fleet.enrolment_bad_proof", serial=serial)
            raise RequestRefusedError(401, str(error)) from None
        return self._answer(row)

    def _request(self, conn: Connection, serial: str, csr: BoxCsr) -> EnrolmentState:
        now = self.clock()
        row = _by_serial(conn, serial)
        if row is None:
            if conn.execute(
                select(fleet_boxes.c.serial).where(fleet_boxes.c.node_id == csr.node_id)
            ).first():
                raise RequestRefusedError(
                    409, f"{csr.node_id} is another box's; ask the fleet operator"
                )
            waiting = conn.execute(
                select(func.count()).select_from(fleet_boxes).where(fleet_boxes.c.state == PENDING)
            ).scalar_one()
            if waiting >= self.settings.max_pending:
                raise RequestRefusedError(
                    503, f"{waiting} boxes wait for an operator already; ask later"
                )
            conn.execute(
                insert(fleet_boxes).values(
                    node_id=csr.node_id, serial=serial, state=PENDING, enrolment_code=csr.code,
                    csr=csr.pem, requested_at=now, created_at=now,
                )
            )  # fmt: skip
            log_event(
                log, logging.INFO, "fleet.enrolment_requested", node=csr.node_id, serial=serial
            )
            return _pending(csr.node_id, csr.code)
        if row.node_id != csr.node_id:
            if row.state == REGISTERED:
                reason = (
                    f"serial {serial} is registered as {row.node_id}, the CSR names {csr.node_id}; "
                    f"set the box's node id to {row.node_id}"
                )
                log_event(
                    log,
                    logging.WARNING,
                    "fleet.enrolment_node_mismatch",
                    node=csr.node_id,
                    serial=serial,
                )
                return EnrolmentAnswer(
                    state=REFUSED, node_id=csr.node_id, code=csr.code, reason=reason
                )
            raise RequestRefusedError(
                409, f"serial {serial} asked to enrol as {row.node_id}, not {csr.node_id}"
            )
        if row.state == REGISTERED:
            self._issue(
                conn, row.node_id, csr, decided_by=row.decided_by or "registration", now=now
            )
            audit(conn, row.decided_by or "registration", "fleet.enrol", _item(row.node_id), "",
                  f"pre-registered serial {serial}: enrolled, code {csr.code}")  # fmt: skip
            log_event(
                log,
                logging.INFO,
                "fleet.enrolled",
                node=row.node_id,
                serial=serial,
                registered=True,
            )
            return self._answer(_by_serial(conn, serial))
        if row.state == PENDING and row.csr != csr.pem:  # a new key (the box was reinstalled)
            conn.execute(
                update(fleet_boxes).where(fleet_boxes.c.node_id == row.node_id)
                .values(csr=csr.pem, enrolment_code=csr.code, requested_at=now)
            )  # fmt: skip
            return _pending(row.node_id, csr.code)
        if row.state == ENROLLED and row.csr != csr.pem:
            raise RequestRefusedError(
                409, f"{row.node_id} is enrolled with another key; renew with a proof by the "
                "current one, or ask the fleet operator",
            )  # fmt: skip
        answer = self._answer(row)
        if row.csr != csr.pem:  # refused or revoked: the operator's reason for its own key only
            return answer.model_copy(update={"reason": None, "code": None})
        return answer

    def _renew(self, serial: str, csr: BoxCsr, proof: Proof) -> EnrolmentState:
        now = self.clock()
        with self.engine.begin() as conn:
            row = _by_serial(conn, serial, for_update=True)
            if row is None or row.state != ENROLLED or row.certificate is None:
                raise RequestRefusedError(
                    403, f"serial {serial} is not an enrolled box; it cannot renew"
                )
            if csr.node_id != row.node_id:
                raise RequestRefusedError(
                    403, f"serial {serial} is {row.node_id}; the CSR names {csr.node_id}"
                )
            current = x509.load_pem_x509_certificate(row.certificate.encode())
            key = current.public_key()
            assert isinstance(key, Ed25519PublicKey)
            try:
                check_proof(proof, key, "renew", serial, csr_pem=csr.pem, now=now)
            except ProofError as error:
                log_event(
                    log, logging.WARNING, "fleet.renewal_bad_proof", node=row.node_id, serial=serial
                )
                raise RequestRefusedError(401, str(error)) from None
            due = current.not_valid_after_utc - dt.timedelta(days=self.settings.renew_within_days)
            rotation = raw_public_key(key) != raw_public_key(csr.key)  # any time: a new key
            # X.509 validity is on the operating system's clock (edge.timeutil).
            if system_utcnow() < due and not rotation:
                raise RequestRefusedError(
                    409, f"the certificate is renewed from {due:%Y-%m-%d}, not before"
                )
            self._issue(conn, row.node_id, csr, decided_by=row.decided_by, now=now)
            log_event(log, logging.INFO, "fleet.renewed", node=row.node_id, serial=serial)
            return self._answer(_by_serial(conn, serial))

    def _issue(
        self,
        conn: Connection,
        node_id: str,
        csr: BoxCsr,
        *,
        decided_by: str | None,
        now: dt.datetime,
    ) -> None:
        try:
            issued = self.ca.issue(csr.request, days=self.settings.box_certificate_days)
        except IssueError as error:
            raise EnrolmentError(f"{node_id}: the CA refuses: {error}") from None
        certificate = issued.certificate
        conn.execute(
            update(fleet_boxes).where(fleet_boxes.c.node_id == node_id).values(
                state=ENROLLED, csr=csr.pem, enrolment_code=csr.code,
                certificate=certificate.public_bytes(serialization.Encoding.PEM).decode("ascii"),
                certificate_serial=format(certificate.serial_number, "x"),
                certificate_not_after=certificate.not_valid_after_utc,
                decided_by=decided_by, decided_at=now, reason=None,
            )
        )  # fmt: skip

    # -- the operator's actions ----------------------------------------------------------------

    def register(self, node_id: str, serial: str, *, operator: str) -> None:
        """Pre-register a box by its serial: it is enrolled when it asks with a CSR of node_id.
        A box of that serial and node id already waiting is approved now."""
        _check_node(node_id, self.ca.country)
        now = self.clock()
        with self.engine.begin() as conn:
            row = _by_serial(conn, serial, for_update=True)
            if row is not None and row.node_id == node_id and row.state == PENDING:
                self._approve(conn, row, operator, now)
                return
            if row is not None:
                raise EnrolmentError(f"serial {serial} is {row.node_id}'s ({row.state})")
            if _by_node(conn, node_id) is not None:
                raise EnrolmentError(f"{node_id} is another serial's; reset or revoke it first")
            conn.execute(
                insert(fleet_boxes).values(
                    node_id=node_id, serial=serial, state=REGISTERED, decided_by=operator,
                    decided_at=now, created_at=now,
                )
            )  # fmt: skip
            audit(
                conn, operator, "fleet.register", _item(node_id), "", f"registered serial {serial}"
            )

    def approve(self, node_id: str, *, operator: str) -> None:
        now = self.clock()
        with self.engine.begin() as conn:
            row = _by_node(conn, node_id, for_update=True)
            if row is None or row.state != PENDING:
                raise EnrolmentError(f"{node_id}: {_state_of(row)}; only a pending box is approved")
            self._approve(conn, row, operator, now)

    def _approve(self, conn: Connection, row: Row[Any], operator: str, now: dt.datetime) -> None:
        csr = self._read_csr_of(row)
        self._issue(conn, row.node_id, csr, decided_by=operator, now=now)
        audit(conn, operator, "fleet.approve", _item(row.node_id), "", f"enrolled, code {csr.code}")
        log_event(
            log,
            logging.INFO,
            "fleet.enrolled",
            node=row.node_id,
            serial=row.serial,
            registered=False,
        )

    def refuse(self, node_id: str, *, operator: str, reason: str) -> None:
        why = checked_reason(reason)
        with self.engine.begin() as conn:
            row = _by_node(conn, node_id, for_update=True)
            if row is None or row.state not in (PENDING, REGISTERED):
                raise EnrolmentError(
                    f"{node_id}: {_state_of(row)}; only a pending or registered box is refused"
                )
            conn.execute(
                update(fleet_boxes).where(fleet_boxes.c.node_id == node_id)
                .values(state=REFUSED, decided_by=operator, decided_at=self.clock(), reason=why)
            )  # fmt: skip
            audit(conn, operator, "fleet.refuse", _item(node_id), why, "enrolment refused")
        log_event(log, logging.INFO, "fleet.enrolment_refused", node=node_id)

    def reset(self, node_id: str, *, operator: str, reason: str) -> None:
        """Forget a refused (or registered) box, so that it may ask again."""
        why = checked_reason(reason)
        with self.engine.begin() as conn:
            row = _by_node(conn, node_id, for_update=True)
            if row is None or row.state not in (REFUSED, REGISTERED):
                raise EnrolmentError(
                    f"{node_id}: {_state_of(row)}; only a refused or registered box is reset"
                )
            conn.execute(delete(fleet_boxes).where(fleet_boxes.c.node_id == node_id))
            audit(conn, operator, "fleet.reset", _item(node_id), why, f"{row.state} box forgotten")

    def revoke(self, node_id: str, *, operator: str, reason: str) -> None:
        """Revoke an enrolled box: the CRL, a `revocation` to every enrolled box and partner
        centre, the audit."""
        why = checked_reason(reason)
        now = self.clock()
        with self.engine.begin() as conn:
            row = _by_node(conn, node_id, for_update=True)
            if row is None or row.state != ENROLLED or row.certificate_serial is None:
                raise EnrolmentError(
                    f"{node_id}: {_state_of(row)}; only an enrolled box is revoked"
                )
            conn.execute(
                update(fleet_boxes).where(fleet_boxes.c.node_id == node_id)
                .values(state=REVOKED, decided_by=operator, decided_at=now, reason=why)
            )  # fmt: skip
            key = certificate_key_fingerprint(row.certificate)
            message = RevocationMessage(
                serials=(row.certificate_serial,), keys=(key.hex(),) if key else (), revoked_at=now
            )
            boxes = conn.execute(
                select(fleet_boxes.c.node_id).where(fleet_boxes.c.state == ENROLLED)
                .order_by(fleet_boxes.c.node_id)
            ).scalars().all()  # fmt: skip
            if boxes:
                self.outbox.send_many([(message, box, None) for box in boxes], conn)
            partners = self.settings.partner_centres if row.certificate else ()
            if partners:  # with the certificate: they check its CA is this country's
                shown = RevocationMessage(
                    serials=message.serials, keys=message.keys,
                    certificates=(row.certificate,), revoked_at=now,
                )  # fmt: skip
                self.outbox.send_many([(shown, centre, None) for centre in partners], conn)
            write_crl(
                self.ca,
                revoked_boxes(conn),
                self.settings.crl_file,
                days=self.settings.crl_days,
                now=system_utcnow(),  # OpenSSL checks a CRL's dates on the system clock
            )
            audit(conn, operator, "fleet.revoke", _item(node_id), why,
                  f"revoked serial {row.certificate_serial}; told {len(boxes)} boxes, "
                  f"{len(partners)} partner centres")  # fmt: skip
        log_event(log, logging.WARNING, "fleet.revoked", node=node_id, serial=row.serial,
                  boxes=len(boxes), partners=len(partners))  # fmt: skip
        reload_broker(self.settings.reload_broker)  # the broker refuses the box from now on
        if self.on_revoked is not None:
            self.on_revoked()

    # -- reading -------------------------------------------------------------------------------

    def pending(self) -> list[PendingBox]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(fleet_boxes).where(fleet_boxes.c.state == PENDING)
                .order_by(fleet_boxes.c.requested_at, fleet_boxes.c.node_id)
            )  # fmt: skip
            return [
                PendingBox(r.node_id, r.serial, r.enrolment_code or "", r.requested_at)
                for r in rows
            ]

    def state_of(self, node_id: str) -> str | None:
        with self.engine.connect() as conn:
            row = _by_node(conn, node_id)
        return None if row is None else str(row.state)

    def revocations(self) -> Revocations:
        """What a box is told to refuse: this fleet's revoked boxes and the partners'."""
        with self.engine.connect() as conn:
            return stored_revocations(conn)

    def purge(self, now: dt.datetime | None = None) -> int:
        """Retention: requests nobody decided on within pending_days, and revoked boxes whose
        certificate has ended (no CRL needs them any more); how many went."""
        now = now or self.clock()
        stale = now - dt.timedelta(days=self.settings.pending_days)
        with self.engine.begin() as conn:
            gone = conn.execute(
                delete(fleet_boxes).where(
                    fleet_boxes.c.state == PENDING, fleet_boxes.c.requested_at < stale
                )
            ).rowcount
            ended = system_utcnow()  # a certificate's end is on the system clock
            gone += conn.execute(
                delete(fleet_boxes).where(
                    fleet_boxes.c.state == REVOKED, fleet_boxes.c.certificate_not_after < ended
                )
            ).rowcount  # fmt: skip
        return int(gone)

    # -- the answer to a box -------------------------------------------------------------------

    def _answer(self, row: Row[Any] | None) -> EnrolmentState:
        assert row is not None
        if row.state == PENDING:
            return _pending(row.node_id, row.enrolment_code)
        if row.state in (REFUSED, REVOKED):
            return EnrolmentAnswer(state=row.state, node_id=row.node_id, code=row.enrolment_code,
                                   reason=row.reason)  # fmt: skip
        if row.state != ENROLLED:
            raise RequestRefusedError(404, f"no enrolment request from serial {row.serial}")
        files, trust_toml = trust_for_boxes(self.settings.trust_store, self.revocations())
        return EnrolmentAnswer(
            state=ENROLLED, node_id=row.node_id, code=row.enrolment_code,
            certificate=row.certificate, ca_bundle="".join(f.certificate for f in files),
            trust_store=trust_toml, trust_files=files, peers=list(self.settings.box_peers),
            report_to=self.outbox.signer.node_id, update_url=self.settings.update_url or None,
        )  # fmt: skip

    def _read_csr_of(self, row: Row[Any]) -> BoxCsr:
        try:
            return read_csr(row.csr or "", self.ca.country)
        except RequestRefusedError as refused:
            raise EnrolmentError(f"{row.node_id}: {refused.reason}") from None


def _pending(node_id: str, code: str | None) -> EnrolmentState:
    return EnrolmentAnswer(state=PENDING, node_id=node_id, code=code, retry_after_s=RETRY_AFTER_S)


def _by_serial(conn: Connection, serial: str, *, for_update: bool = False) -> Row[Any] | None:
    query = select(fleet_boxes).where(fleet_boxes.c.serial == serial)
    return conn.execute(query.with_for_update() if for_update else query).first()


def _by_node(conn: Connection, node_id: str, *, for_update: bool = False) -> Row[Any] | None:
    query = select(fleet_boxes).where(fleet_boxes.c.node_id == node_id)
    return conn.execute(query.with_for_update() if for_update else query).first()


def _check_node(node_id: str, country: str) -> None:
    try:
        node = NodeId.parse(node_id)
    except InvalidNodeIdError as error:
        raise EnrolmentError(str(error)) from None
    if node.country != country:
        raise EnrolmentError(f"{node_id} is not a node of {country}, this CA's country")


def _state_of(row: Row[Any] | None) -> str:
    return "no such box" if row is None else str(row.state)


def _item(node_id: str) -> str:
    return f"box:{node_id}"
