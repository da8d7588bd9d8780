"""The log's side of the witness protocol: each new checkpoint shown to every witness with the
consistency proof from the size it was shown last (`tlog_witness_sent`), in one transaction
with that record; a witness that refuses (it stands elsewhere) moves the record
(sync.tlog.witness)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, Executable, Table, select
from sqlalchemy.dialects import postgresql, sqlite

from edge.logs import log_event
from edge.store.schema import tlog_witness_sent
from edge.timeutil import utcnow
from sync.dialect import POSTGRESQL
from sync.messages import CheckpointMessage, Message
from sync.outbox import NoRouteError, Outbox
from sync.tlog import audit
from sync.tlog.store import StoredCheckpoint, TransparencyLog

logger = logging.getLogger(__name__)


def publish_checkpoint(
    log: TransparencyLog,
    outbox: Outbox,
    witnesses: Sequence[str],
    *,
    conn: Connection | None = None,
    now: dt.datetime | None = None,
) -> StoredCheckpoint | None:
    """Sign a checkpoint if the log grew (`TransparencyLog.checkpoint`) and send it to every
    witness not shown that size yet, with the consistency proof from the size it was shown
    last; the latest checkpoint (None while the log is empty)."""
    if log.integrate_all() == 0 and log.latest_checkpoint() is None:
        return None
    latest = log.checkpoint(now)
    if conn is None:
        with log.engine.begin() as own:
            _show(log, outbox, witnesses, latest, own)
    else:
        _show(log, outbox, witnesses, latest, conn)
    return latest


def _show(
    log: TransparencyLog,
    outbox: Outbox,
    witnesses: Sequence[str],
    latest: StoredCheckpoint,
    conn: Connection,
) -> None:
    sent = dict(
        conn.execute(
            select(tlog_witness_sent.c.witness, tlog_witness_sent.c.size).where(
                tlog_witness_sent.c.witness.in_(list(witnesses))
            )
        ).all()
    )
    items: list[tuple[Message, str, str | None]] = []
    shown: list[str] = []
    for witness in witnesses:
        if (
            witness == log.node_id
            or sent.get(witness) == latest.size
            or not routed(outbox, witness)
        ):
            continue
        old = int(sent.get(witness, 0))
        if old > latest.size:  # shown more than the log has now: rolled back, and it will say
            log_event(logger, logging.WARNING, "tlog.witness_saw_more", witness=witness,
                      shown=old, size=latest.size)  # fmt: skip
            old = 0
        proof = log.consistency_proof(old, latest.size) if 0 < old < latest.size else []
        audit_of, entries = audit.answer(conn, log, witness, latest.size)
        message = CheckpointMessage(
            note=latest.note.decode(), old_size=old, proof=tuple(h.hex() for h in proof),
            audit_of=audit_of, entries=entries,
        )  # fmt: skip
        items.append((message, witness, None))
        shown.append(witness)
    if not items:
        return
    outbox.send_many(items, conn)
    now = utcnow()
    for witness in shown:
        set_sent(conn, witness, latest.size, now)


def set_sent(conn: Connection, witness: str, size: int, now: dt.datetime) -> None:
    values = {"witness": witness, "size": size, "sent_at": now}
    insert: Any = (
        postgresql.insert(tlog_witness_sent)
        if conn.dialect.name == POSTGRESQL
        else sqlite.insert(tlog_witness_sent)
    )
    conn.execute(
        insert.values(values).on_conflict_do_update(
            index_elements=["witness"], set_={"size": size, "sent_at": now}
        )
    )


def routed(outbox: Outbox, destination: str) -> bool:
    try:
        outbox.peer_for(destination)
    except NoRouteError:
        log_event(logger, logging.WARNING, "tlog.no_route", destination=destination)
        return False
    return True


def insert_ignore(conn: Connection, table: Table, keys: list[str]) -> Executable:
    if conn.dialect.name == POSTGRESQL:
        return postgresql.insert(table).on_conflict_do_nothing(index_elements=keys)
    return sqlite.insert(table).on_conflict_do_nothing(index_elements=keys)
