"""Spot checks of a log's entries by its witnesses: an entry that fails its proof is caught.

Consistency proofs show that a log only grew; they cannot show that it holds what it should.
Each witness knows part of that: the messages it exchanged with the log's node, which its own
log holds with the SHA-256 of their exact bytes. So with each cosignature a witness names up
to `MAX_AUDITED` of them, chosen at random among the recent ones (`choose`): messages the node
signed and the witness applied, and messages the witness signed that the node acknowledged
(the node logs what it applies in the transaction that applies it, so an acknowledged
message is in its log). The node answers in its next checkpoint message (`answer`): each
message as its log holds it, with its inclusion proof in that checkpoint's tree. The witness
then checks (`check`) that each is there, is the mirror of its own entry (signed there,
applied here, or the reverse; same type, same bytes) and that its proof leads to the root the
node signed. A message missing, altered or unproved is a `bad_proof` alert, with the signed
checkpoint as the proof.

Messages may cross: a checkpoint made before the node received the question does not answer
it (`audit_of` says which cosignature a checkpoint answers), and the question stays open until
one does. An answer that never comes is logged, not raised: a node's checkpoints may be
queued behind a dead link while the question waits on the other side.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import Connection, and_, delete, or_, select

from edge.store.schema import outbox, tlog_audits, tlog_entries
from sync.messages import MAX_AUDITED, AuditedEntry
from sync.tlog.merkle import ProofError, leaf_hash, verify_inclusion
from sync.tlog.store import TransparencyLog, entry_leaf

ASKED, TO_PROVE = "asked", "to_prove"
RECENT = 1000  # the entries a sample is drawn from: the latest exchanged with that node
_MIRROR = {"signed": "applied", "applied": "signed"}
_random = random.SystemRandom()  # a node must not be able to predict what will be checked


def choose(conn: Connection, log_node: str, size: int, now: dt.datetime) -> tuple[str, ...]:
    """Up to MAX_AUDITED messages this node exchanged with `log_node` that its log must hold,
    drawn at random; kept as asked with the cosigned `size` (the questions before them end)."""
    conn.execute(
        delete(tlog_audits).where(tlog_audits.c.peer == log_node, tlog_audits.c.role == ASKED)
    )
    delivered = select(outbox.c.id).where(outbox.c.state == "delivered")
    rows = conn.execute(
        select(tlog_entries.c.message_id)
        .where(
            tlog_entries.c.party == log_node,
            or_(
                tlog_entries.c.kind == "applied",
                and_(tlog_entries.c.kind == "signed", tlog_entries.c.message_id.in_(delivered)),
            ),
        )
        .order_by(tlog_entries.c.id.desc())
        .limit(RECENT)
    ).scalars()
    ids = sorted(set(rows))
    chosen = tuple(_random.sample(ids, min(MAX_AUDITED, len(ids))))
    if chosen:
        conn.execute(
            tlog_audits.insert(),
            [
                {"peer": log_node, "message_id": m, "role": ASKED, "asked_at_size": size,
                 "requested_at": now}
                for m in chosen
            ],
        )  # fmt: skip
    return chosen


def owe(conn: Connection, witness: str, ids: Sequence[str], size: int, now: dt.datetime) -> None:
    """Keep what `witness` asked with its cosignature of `size`, to answer in the next
    checkpoint shown to it (a newer question replaces an older one)."""
    conn.execute(
        delete(tlog_audits).where(tlog_audits.c.peer == witness, tlog_audits.c.role == TO_PROVE)
    )
    if ids:
        conn.execute(
            tlog_audits.insert(),
            [
                {"peer": witness, "message_id": m, "role": TO_PROVE, "asked_at_size": size,
                 "requested_at": now}
                for m in dict.fromkeys(ids)
            ],
        )  # fmt: skip


def answer(
    conn: Connection, log: TransparencyLog, witness: str, size: int
) -> tuple[int | None, tuple[AuditedEntry, ...]]:
    """The answer owed to `witness`, proved in the tree of `size`: (the cosigned size it
    answers, the entries), and the question closed; (None, ()) when none is owed."""
    rows = conn.execute(
        select(tlog_audits.c.message_id, tlog_audits.c.asked_at_size).where(
            tlog_audits.c.peer == witness, tlog_audits.c.role == TO_PROVE
        )
    ).all()
    if not rows:
        return None, ()
    entries = []
    for message_id, _ in rows:
        held = [
            e for e in log.entries_of(message_id)
            if e.party == witness and e.leaf_index is not None and e.leaf_index < size
        ]  # fmt: skip
        if not held:
            entries.append(AuditedEntry(message_id=message_id))
            continue
        entry = held[0]
        assert entry.leaf_index is not None
        proof = log.inclusion_proof(entry.leaf_index, size)
        entries.append(
            AuditedEntry(
                message_id=message_id, kind=entry.kind,
                type=entry.type, party=entry.party,
                envelope_sha256=entry.envelope_sha256.hex(), leaf_index=entry.leaf_index,
                proof=tuple(h.hex() for h in proof),
            )
        )  # fmt: skip
    conn.execute(
        delete(tlog_audits).where(tlog_audits.c.peer == witness, tlog_audits.c.role == TO_PROVE)
    )
    return int(rows[0].asked_at_size), tuple(entries)


@dataclass(frozen=True)
class Failure:
    message_id: str
    why: str


def check(
    conn: Connection,
    witness: str,
    log_node: str,
    audit_of: int | None,
    entries: Sequence[AuditedEntry],
    size: int,
    root: bytes,
) -> list[Failure] | None:
    """The entries a checkpoint of `log_node`'s log (`size`, `root`) failed to prove of those
    this witness asked; None when it does not answer the open question (none, or crossed)."""
    asked = conn.execute(
        select(tlog_audits.c.message_id, tlog_audits.c.asked_at_size).where(
            tlog_audits.c.peer == log_node, tlog_audits.c.role == ASKED
        )
    ).all()
    if not asked or audit_of is None or audit_of != int(asked[0].asked_at_size):
        return None
    given = {e.message_id: e for e in entries}
    failures = []
    for message_id, _ in asked:
        mine = conn.execute(
            select(tlog_entries.c.kind, tlog_entries.c.type, tlog_entries.c.envelope_sha256)
            .where(tlog_entries.c.message_id == message_id, tlog_entries.c.party == log_node)
            .limit(1)
        ).first()
        if mine is None:  # purged here meanwhile: nothing to hold it against
            continue
        why = _fails(given.get(message_id), mine.kind, mine.type, bytes(mine.envelope_sha256),
                     witness, size, root)  # fmt: skip
        if why is not None:
            failures.append(Failure(message_id, why))
    conn.execute(
        delete(tlog_audits).where(tlog_audits.c.peer == log_node, tlog_audits.c.role == ASKED)
    )
    return failures


def _fails(
    entry: AuditedEntry | None,
    kind: str,
    message_type: str,
    sha256: bytes,
    witness: str,
    size: int,
    root: bytes,
) -> str | None:
    if entry is None:
        return "not answered"
    if entry.leaf_index is None:
        return "not in the log"
    expected = (_MIRROR[kind], message_type, witness, sha256.hex())
    if (entry.kind, entry.type, entry.party, entry.envelope_sha256) != expected:
        return "logged otherwise than exchanged"
    if entry.leaf_index >= size:
        return f"leaf {entry.leaf_index} is beyond the checkpoint's size {size}"
    assert entry.kind is not None
    assert entry.party is not None
    leaf = leaf_hash(entry_leaf(entry.kind, entry.message_id, entry.type, entry.party, sha256))
    try:
        verify_inclusion(
            entry.leaf_index, size, leaf, [bytes.fromhex(h) for h in entry.proof], root
        )
    except ProofError as error:
        return f"leaf {entry.leaf_index}: {error}"
    return None
