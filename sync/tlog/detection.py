"""What a node does when a log is caught: a fork (two roots for one size), an inconsistent log
(a later checkpoint that does not extend an earlier one), a truncated log (smaller than what a
witness saw), a failed proof. In the transaction that applies the offending message: an alert
row with both signed checkpoints and the proof as evidence, the message kept in quarantine, a
warning with ids and sizes only, and a signed `tlog_alert` to the centres. And what a centre
does with an alert it is sent."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import Connection, insert, select

from edge.logs import log_event
from edge.store.schema import quarantine, tlog_alerts
from edge.timeutil import utcnow
from sync.envelope import Envelope
from sync.messages import TlogAlertMessage
from sync.outbox import Outbox
from sync.tlog.checkpoint import CheckpointError, open_checkpoint
from sync.tlog.note import Ed25519NoteVerifier
from sync.topics import topic_of

log = logging.getLogger(__name__)


class AlertKind(StrEnum):
    FORK = "fork"
    INCONSISTENT = "inconsistent"
    TRUNCATED = "truncated"
    BAD_PROOF = "bad_proof"


# The quarantine's reason code of the message that showed each (quarantine.reason: 32 chars).
QUARANTINE_REASON = {
    AlertKind.FORK: "tlog_fork",
    AlertKind.INCONSISTENT: "tlog_inconsistent",
    AlertKind.TRUNCATED: "tlog_truncated",
    AlertKind.BAD_PROOF: "tlog_bad_proof",
}


@dataclass(frozen=True)
class Detection:
    """A log caught, with its proof: the signed checkpoints (the one held, the one shown)."""

    kind: AlertKind
    log_node: str
    detail: str  # sizes and who showed what: no personal data exists in a log's checkpoints
    checkpoints: tuple[str, ...]
    proof: tuple[bytes, ...] = ()
    sizes: dict[str, int] = field(default_factory=dict)

    def evidence(self) -> str:
        return json.dumps(
            {
                "kind": self.kind.value, "log_node": self.log_node,
                "checkpoints": list(self.checkpoints), "proof": [h.hex() for h in self.proof],
                **self.sizes,
            },
            sort_keys=True,
        )  # fmt: skip


class Alerting:
    """Raises detections as this node: `report_to` are the centres told of each."""

    def __init__(self, outbox: Outbox, node_id: str, report_to: Sequence[str]) -> None:
        self.outbox = outbox
        self.node_id = node_id
        self.report_to = [c for c in report_to if c != node_id]

    def raise_alert(self, conn: Connection, found: Detection, envelope: Envelope) -> None:
        """In the applier's transaction: the alert (once per log, kind and detail), the
        offending message in quarantine, the warning, the signed alert to the centres."""
        now = utcnow()
        _quarantine(conn, envelope, QUARANTINE_REASON[found.kind], found.detail)
        log_event(
            log, logging.WARNING, "tlog.detected", kind=found.kind.value, log_node=found.log_node,
            message_id=envelope.id, origin=envelope.origin,
            sizes=",".join(f"{k}={v}" for k, v in sorted(found.sizes.items())),
        )  # fmt: skip
        known = conn.execute(
            select(tlog_alerts.c.id).where(
                tlog_alerts.c.log_node == found.log_node, tlog_alerts.c.kind == found.kind.value,
                tlog_alerts.c.detail == found.detail,
                tlog_alerts.c.reported_by == self.node_id,
            )
        ).first()  # fmt: skip
        if known is not None:  # the same finding again (a message sent twice): told already
            return
        message = TlogAlertMessage(
            log_node=found.log_node, kind=found.kind.value, detail=found.detail[:2000],
            checkpoints=found.checkpoints[:4], proof=tuple(h.hex() for h in found.proof[:64]),
        )  # fmt: skip
        to = [(message, centre, None) for centre in self.report_to]
        sent = self.outbox.send_many(to, conn) if to else []
        conn.execute(
            insert(tlog_alerts).values(
                detected_at=now, log_node=found.log_node, kind=found.kind.value,
                detail=found.detail, evidence=found.evidence(), reported_by=self.node_id,
                message_id=sent[0] if sent else None,
            )
        )  # fmt: skip


def _quarantine(conn: Connection, envelope: Envelope, reason: str, detail: str) -> None:
    """Keep the message that showed the problem for review: its signed content (the applier
    sees the verified envelope, not the bytes received; the inbox keeps those of what it
    refuses itself)."""
    conn.execute(
        insert(quarantine).values(
            received_at=utcnow(), peer=envelope.origin[:64], topic=topic_of(envelope)[:300],
            reason=reason, detail=detail[:2000], message_id=envelope.id,
            origin=envelope.origin, raw=envelope.canonical_json()[: 64 * 1024],
        )
    )  # fmt: skip


# The keys a log's notes may be checked with, by its node id (sync.tlog.witness.KnownKeys).
LogKeys = Callable[[str], Sequence[Ed25519NoteVerifier]]


def alert_applier(log_keys: LogKeys) -> Callable[[Connection, Envelope], None]:
    """A centre's applier of `tlog_alert`: the signed checkpoints it carries are verified
    where the log's key is known here (the evidence says which), and the alert is kept as
    reported by its sender."""

    def apply(conn: Connection, envelope: Envelope) -> None:
        alert = envelope.payload
        assert isinstance(alert, TlogAlertMessage)
        verifiers = log_keys(alert.log_node)
        checked: list[bool | None] = []
        for note in alert.checkpoints:
            checked.append(_verifies(note.encode(), verifiers) if verifiers else None)
        evidence = json.dumps(
            {
                "kind": alert.kind, "log_node": alert.log_node,
                "checkpoints": list(alert.checkpoints), "proof": list(alert.proof),
                "verified": checked,
            },
            sort_keys=True,
        )  # fmt: skip
        conn.execute(
            insert(tlog_alerts).values(
                detected_at=utcnow(), log_node=alert.log_node, kind=alert.kind,
                detail=alert.detail, evidence=evidence, reported_by=envelope.origin,
                message_id=envelope.id,
            )
        )  # fmt: skip
        log_event(
            log, logging.WARNING, "tlog.alert_received", kind=alert.kind,
            log_node=alert.log_node, reported_by=envelope.origin, message_id=envelope.id,
            checkpoints=len(alert.checkpoints),
            verified=sum(1 for c in checked if c), unverified=sum(1 for c in checked if c is False),
        )  # fmt: skip

    return apply


def _verifies(note: bytes, verifiers: Sequence[Ed25519NoteVerifier]) -> bool:
    for verifier in verifiers:
        try:
            open_checkpoint(note, verifier)
        except CheckpointError:
            continue
        return True
    return False
