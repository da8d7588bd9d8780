"""The witness protocol over the sync: a node shows each witness of its log its new checkpoint
with a consistency proof from the one it showed it last (`publish_checkpoint`, in
sync.tlog.publishing); the witness holds it against what it saw before (its own and, as
gossip, other witnesses'), cosigns it (C2SP tlog-cosignature) and returns it, and tells the
centres, so that a log that showed two witnesses two histories is caught where their copies
meet. A fork, an inconsistent or a
truncated log is raised as an alert with both signed checkpoints (`sync.tlog.detection`).

Keys: the log's key is its node's key, the one that verified the envelope (the inbox's key
lookup remembers it, `KnownKeys`); a witness's key likewise. A gossiped note names the log's key
(`log_key`); it is used only when this node knows no key of that log: the witness that sent it
is authenticated and checked the note with its own trust store.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any, Protocol

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Row, select

from edge.logs import log_event
from edge.store.schema import tlog_checkpoints, tlog_cosignatures, tlog_witnessed
from edge.timeutil import utcnow
from sync.envelope import Envelope
from sync.inbox import Applier
from sync.messages import CheckpointMessage, CosignatureMessage, Message
from sync.outbox import Outbox
from sync.tlog import audit
from sync.tlog.checkpoint import CheckpointError, SignedCheckpoint, open_checkpoint
from sync.tlog.cosignature import Ed25519CosignatureVerifier, Ed25519Cosigner, cosignatures
from sync.tlog.detection import Alerting, AlertKind, Detection, alert_applier
from sync.tlog.merkle import EMPTY_ROOT, ProofError, tree_hash, verify_consistency
from sync.tlog.note import Ed25519NoteVerifier, Note, NoteError, parse_note, parse_vkey
from sync.tlog.publishing import insert_ignore, publish_checkpoint, routed, set_sent
from sync.tlog.store import (
    DatabaseTiles,
    TransparencyLog,
    log_origin,
    tree_size,
)
from sync.tlog.tiles import TileHashReader

__all__ = ["KnownKeys", "Witness", "publish_checkpoint", "tlog_appliers"]

logger = logging.getLogger(__name__)


class KnownKeys(Protocol):
    """The keys the trust store vouched for a node (sync.setup.TrustedKeys)."""

    def keys_of(self, origin: str) -> list[Ed25519PublicKey]: ...


# -- the appliers ------------------------------------------------------------------------------


class Witness:
    """This node as the witness of other nodes' logs, and as the owner of its own: the
    appliers of `checkpoint`, `cosignature` and `tlog_alert`."""

    def __init__(
        self,
        log: TransparencyLog,
        outbox: Outbox,
        keys: KnownKeys,
        node_id: str,
        private_key: Ed25519PrivateKey,
        report_to: Sequence[str],
    ) -> None:
        self.log = log
        self.outbox = outbox
        self.keys = keys
        self.node_id = node_id
        self.cosigner = Ed25519Cosigner(log_origin(node_id), private_key)
        self.alerting = Alerting(outbox, node_id, report_to)
        self.report_to = [c for c in report_to if c != node_id]
        # Keys that opened a log's checkpoints here: a gossiped note of that log is held to them.
        self._learned: dict[str, dict[bytes, Ed25519PublicKey]] = {}

    # -- keys --------------------------------------------------------------------------------

    def log_verifiers(self, node: str) -> list[Ed25519NoteVerifier]:
        keys = {k.public_bytes_raw(): k for k in self.keys.keys_of(node)}
        keys.update(self._learned.get(node, {}))
        return [Ed25519NoteVerifier(log_origin(node), k) for k in keys.values()]

    def witness_verifiers(self, node: str) -> list[Ed25519CosignatureVerifier]:
        keys = {k.public_bytes_raw(): k for k in self.keys.keys_of(node)}
        return [Ed25519CosignatureVerifier(log_origin(node), k) for k in keys.values()]

    def _open(
        self,
        note: str,
        logs: Sequence[Ed25519NoteVerifier],
        witnesses: Sequence[Ed25519CosignatureVerifier] = (),
    ) -> tuple[SignedCheckpoint, Ed25519NoteVerifier]:
        """The note opened with the one of the log's keys that signed it; ValueError (the
        inbox quarantines the message) if none did."""
        problem = "no key known for the log"
        for verifier in logs:
            try:
                signed = open_checkpoint(note.encode(), verifier, witnesses)
            except CheckpointError as error:
                problem = str(error)
                continue
            if signed.checkpoint.body() != signed.note.text:
                raise ValueError("checkpoint: not in its one canonical spelling")
            return signed, verifier
        raise ValueError(f"checkpoint note does not verify: {problem}"[:300])

    # -- checkpoint: as a witness ------------------------------------------------------------

    def on_checkpoint(self, conn: Connection, envelope: Envelope) -> None:
        message = envelope.payload
        assert isinstance(message, CheckpointMessage)
        node = envelope.origin
        if node == self.node_id:
            raise ValueError("a checkpoint of this node's own log, sent to itself")
        signed, verifier = self._open(message.note, self.log_verifiers(node))
        checkpoint = signed.checkpoint
        if checkpoint.origin != log_origin(node):
            raise ValueError(f"checkpoint origin {checkpoint.origin[:80]!r} is not {node}'s log")
        self._learned.setdefault(node, {})[verifier.public_key.public_bytes_raw()] = (
            verifier.public_key
        )
        size, root = checkpoint.size, checkpoint.root_hash
        held = _latest_witnessed(conn, node)
        proof = tuple(bytes.fromhex(h) for h in message.proof)
        sizes = {"size": size, "old_size": message.old_size}
        if held is not None:
            held_size, held_root, held_note = int(held.size), bytes(held.root_hash), held.note
            sizes["held_size"] = held_size
            both = (held_note, message.note)
            found: Detection | None = None
            if held_size == size and held_root != root:
                found = Detection(AlertKind.FORK, node, f"{node}: size {size} with two roots "
                                  "shown to this witness", both, sizes=sizes)  # fmt: skip
            elif size < held_size:
                found = Detection(AlertKind.TRUNCATED, node, f"{node}: size {size} after "
                                  f"{held_size} was shown", both, sizes=sizes)  # fmt: skip
            elif size > held_size and message.old_size != held_size:
                # Not from where this witness stands (messages cross, a log restored): say where.
                refusal = CosignatureMessage(log_node=node, size=size, known_size=held_size)
                self._send(conn, [(refusal, node, None)])
                return
            elif size > held_size:
                try:
                    verify_consistency(held_size, size, proof, held_root, root)
                except ProofError as error:
                    found = Detection(
                        AlertKind.INCONSISTENT, node,
                        f"{node}: {held_size} -> {size} not consistent ({error})", both, proof,
                        sizes,
                    )  # fmt: skip
            if found is not None:
                self.alerting.raise_alert(conn, found, envelope)
                return
        failures = audit.check(
            conn, self.node_id, node, message.audit_of, message.entries, size, root
        )
        if failures:  # messages exchanged with this witness that the log does not prove
            first = failures[0]
            self.alerting.raise_alert(
                conn,
                Detection(AlertKind.BAD_PROOF, node, f"{node}: {len(failures)} of the messages "
                          f"exchanged with this witness fail their proof in size {size}, e.g. "
                          f"{first.message_id}: {first.why}", (message.note,), sizes=sizes),
                envelope,
            )  # fmt: skip
            return
        other = _other_root(conn, node, size, root, exclude=node)
        if other is not None:  # another witness was shown another tree of this size
            self.alerting.raise_alert(
                conn,
                Detection(AlertKind.FORK, node, f"{node}: size {size} with another root shown "
                          f"to {other.source}", (other.note, message.note), sizes=sizes),
                envelope,
            )  # fmt: skip
            return
        conn.execute(
            insert_ignore(conn, tlog_witnessed, ["log_node", "size", "source"]),
            {"log_node": node, "size": size, "root_hash": root, "note": message.note,
             "source": node, "seen_at": utcnow()},
        )  # fmt: skip
        cosigned = self._cosign(signed, message.note)
        asked = audit.choose(conn, node, size, utcnow())  # proved in its next checkpoint
        items: list[tuple[Message, str, str | None]] = [
            (CosignatureMessage(log_node=node, size=size, note=cosigned, audit=asked), node, None)
        ]
        gossip = CosignatureMessage(
            log_node=node, size=size, note=cosigned, log_key=verifier.vkey()
        )
        items += [(gossip, centre, None) for centre in self.report_to if centre != node]
        self._send(conn, items)

    def _cosign(self, signed: SignedCheckpoint, note: str) -> str:
        ours = self.cosigner.cosign(signed.checkpoint, int(utcnow().timestamp()))
        parsed = parse_note(note.encode())
        kept = tuple(s for s in parsed.signatures if (s.name, s.key_id) != (ours.name, ours.key_id))
        return Note(parsed.text, (*kept, ours)).encode().decode()

    def _send(self, conn: Connection, items: list[tuple[Message, str, str | None]]) -> None:
        reachable = [item for item in items if routed(self.outbox, item[1])]
        if reachable:
            self.outbox.send_many(reachable, conn)

    # -- cosignature: as the log's owner, or gossip ------------------------------------------

    def on_cosignature(self, conn: Connection, envelope: Envelope) -> None:
        message = envelope.payload
        assert isinstance(message, CosignatureMessage)
        if message.log_node == self.node_id:
            self._our_cosignature(conn, envelope, message)
        elif message.note:
            self._gossip(conn, envelope, message)

    def _our_cosignature(
        self, conn: Connection, envelope: Envelope, message: CosignatureMessage
    ) -> None:
        witness = envelope.origin
        ours = tree_size(conn)
        if message.known_size is not None:  # refused: the next checkpoint starts from there
            set_sent(conn, witness, message.known_size, utcnow())
            if message.known_size > ours:
                latest = _latest_checkpoint(conn)
                self.alerting.raise_alert(
                    conn,
                    Detection(AlertKind.TRUNCATED, self.node_id, f"{witness} saw size "
                              f"{message.known_size} of this log, which has {ours}",
                              (latest,) if latest else (),
                              sizes={"known_size": message.known_size, "size": ours}),
                    envelope,
                )  # fmt: skip
            return
        mine = Ed25519NoteVerifier(self.log.origin, self.log.verifier.public_key)
        witnesses = self.witness_verifiers(witness)
        signed, _ = self._open(message.note, [mine], witnesses)
        size = signed.checkpoint.size
        if size != message.size:
            raise ValueError(f"cosignature: size {message.size}, its note says {size}")
        made = cosignatures(signed.note.verified, witnesses)
        if not made:
            raise ValueError(f"the note carries no cosignature of {witness}")
        sizes = {"size": size, "tree_size": ours}
        if size > ours:
            latest = _latest_checkpoint(conn)
            self.alerting.raise_alert(
                conn,
                Detection(AlertKind.TRUNCATED, self.node_id, f"{witness} cosigned size {size} "
                          f"of this log, which has {ours}",
                          (message.note, *((latest,) if latest else ())), sizes=sizes),
                envelope,
            )  # fmt: skip
            return
        root = tree_hash(TileHashReader(DatabaseTiles(conn), size), size) if size else EMPTY_ROOT
        if root != signed.checkpoint.root_hash:
            stored = conn.execute(
                select(tlog_checkpoints.c.note).where(tlog_checkpoints.c.size == size)
            ).scalar()
            self.alerting.raise_alert(
                conn,
                Detection(AlertKind.FORK, self.node_id, f"{witness} cosigned another tree of "
                          f"size {size} signed with this log's key",
                          (message.note, *((stored,) if stored else ())), sizes=sizes),
                envelope,
            )  # fmt: skip
            return
        line = next(s for s in signed.note.verified if s.name == log_origin(witness)).line()
        conn.execute(
            insert_ignore(conn, tlog_cosignatures, ["size", "witness"]),
            {"size": size, "witness": witness, "signature": line, "received_at": utcnow()},
        )
        audit.owe(conn, witness, message.audit, size, utcnow())

    def _gossip(self, conn: Connection, envelope: Envelope, message: CosignatureMessage) -> None:
        witness, node = envelope.origin, message.log_node
        logs = self.log_verifiers(node)
        key_source = "trust"
        if not logs and message.log_key is not None:
            try:
                claimed = parse_vkey(message.log_key)
            except NoteError as error:
                raise ValueError(f"log_key: {error}") from None
            if claimed.name != log_origin(node):
                raise ValueError(f"log_key is of {claimed.name[:80]!r}, not {node}'s log")
            logs, key_source = [claimed], "gossip"
        witnesses = self.witness_verifiers(witness)
        signed, _ = self._open(message.note, logs, witnesses)
        checkpoint = signed.checkpoint
        if checkpoint.origin != log_origin(node) or checkpoint.size != message.size:
            raise ValueError(f"the note is not {node}'s checkpoint of size {message.size}")
        if not cosignatures(signed.note.verified, witnesses):
            raise ValueError(f"the note carries no cosignature of {witness}")
        size, root = checkpoint.size, checkpoint.root_hash
        log_event(logger, logging.INFO, "tlog.gossip", log_node=node, witness=witness, size=size,
                  key=key_source)  # fmt: skip
        other = _other_root(conn, node, size, root, exclude=None)
        if other is not None:
            self.alerting.raise_alert(
                conn,
                Detection(AlertKind.FORK, node, f"{node}: size {size} cosigned by {witness} "
                          f"with another root than shown to {other.source}",
                          (other.note, message.note), sizes={"size": size}),
                envelope,
            )  # fmt: skip
            return
        conn.execute(
            insert_ignore(conn, tlog_witnessed, ["log_node", "size", "source"]),
            {"log_node": node, "size": size, "root_hash": root, "note": message.note,
             "source": witness, "seen_at": utcnow()},
        )  # fmt: skip

    def alert_log_keys(self, node: str) -> list[Ed25519NoteVerifier]:
        return self.log_verifiers(node)


def _latest_witnessed(conn: Connection, node: str) -> Row[Any] | None:
    """What this node, as a witness, last cosigned of `node`'s log."""
    return conn.execute(
        select(tlog_witnessed)
        .where(tlog_witnessed.c.log_node == node, tlog_witnessed.c.source == node)
        .order_by(tlog_witnessed.c.size.desc())
        .limit(1)
    ).first()


def _other_root(
    conn: Connection, node: str, size: int, root: bytes, exclude: str | None
) -> Row[Any] | None:
    """A checkpoint of `node`'s log of `size` held here with another root (from any source
    but `exclude`)."""
    query = select(tlog_witnessed).where(
        tlog_witnessed.c.log_node == node, tlog_witnessed.c.size == size
    )
    if exclude is not None:
        query = query.where(tlog_witnessed.c.source != exclude)
    for row in conn.execute(query.order_by(tlog_witnessed.c.source)):
        if bytes(row.root_hash) != root:
            return row
    return None


def _latest_checkpoint(conn: Connection) -> str | None:
    return conn.execute(
        select(tlog_checkpoints.c.note).order_by(tlog_checkpoints.c.size.desc()).limit(1)
    ).scalar()


def tlog_appliers(
    log: TransparencyLog,
    outbox: Outbox,
    key_for: KnownKeys,
    node_id: str,
    private_key: Ed25519PrivateKey,
    report_to: Sequence[str],
) -> dict[str, Applier]:
    """The inbox's appliers of the witness protocol's messages (`checkpoint`, `cosignature`,
    `tlog_alert`); `key_for` is the inbox's own key lookup (sync.setup.TrustedKeys)."""
    witness = Witness(log, outbox, key_for, node_id, private_key, report_to)
    return {
        "checkpoint": witness.on_checkpoint,
        "cosignature": witness.on_cosignature,
        "tlog_alert": alert_applier(witness.alert_log_keys),
    }
