"""The records desk: the CIS's records as the centre keeps them, and where each goes.

A submission is one transaction: the record's latest version is stored, its history written,
and a signed `manifest` message queued in the outbox for each box of its offices; a record is
never stored without its routes nor routed without being stored. An amendment (a higher
version) replaces the stored one and goes to the boxes it now concerns, and a box it no longer
concerns gets a withdrawal; a cancellation withdraws it from every box that holds it. The same
version with the same content again is `unchanged` (a CIS may resend), with other content it
is refused: an amendment needs a new version.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Engine, Row, insert, select, tuple_, update

from centre.routing import Routing
from centre.store.schema import record_history, record_routes, records
from edge.logs import log_event
from edge.manifest import Manifest, parse_manifest_json
from edge.timeutil import utcnow
from sync.envelope import default_stream
from sync.messages import ManifestMessage, ManifestWithdrawalMessage, Message
from sync.outbox import Outbox

log = logging.getLogger(__name__)


class Outcome(StrEnum):
    ACCEPTED = "accepted"  # a new record
    AMENDED = "amended"  # a higher version replaced the stored one
    UNCHANGED = "unchanged"  # this version with this content is already here
    REFUSED = "refused"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Result:
    issuer: str
    ref: str
    version: int
    outcome: Outcome
    routed_to: tuple[str, ...] = ()
    withdrawn_from: tuple[str, ...] = ()
    reasons: tuple[str, ...] = ()
    unserved_offices: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, object]:
        out: dict[str, object] = {
            "issuer": self.issuer,
            "ref": self.ref,
            "version": self.version,
            "outcome": self.outcome.value,
            "routed_to": list(self.routed_to),
        }
        if self.withdrawn_from:
            out["withdrawn_from"] = list(self.withdrawn_from)
        if self.reasons:
            out["reasons"] = list(self.reasons)
        if self.unserved_offices:
            out["unserved_offices"] = list(self.unserved_offices)
        return out


@dataclass(frozen=True)
class StoredRecord:
    record: Manifest
    state: str
    source: str


_Key = tuple[str, str]  # (issuer, ref)
_Stored = Row[Any, Any, Any, Any, Any, Any]  # id, version, state, record, issuer, ref
_STORED = select(
    records.c.id, records.c.version, records.c.state, records.c.record, records.c.issuer,
    records.c.ref,
)  # fmt: skip
STORED_LOOKUP = 500  # keys one lookup of stored records names at most


@dataclass
class _Batch:
    """What one submission sends, in order, with the rows it writes: written together at the
    end (`RecordDesk._finish`), a few statements a submission rather than several a record."""

    stored: dict[_Key, _Stored] = field(default_factory=dict)  # locked, read once
    seen: set[_Key] = field(default_factory=set)
    new_records: list[dict[str, object]] = field(default_factory=list)
    messages: list[tuple[Message, str, str | None]] = field(default_factory=list)
    # Route rows, each with the index in `messages` of the message that carries it.
    routes: list[tuple[dict[str, object], int]] = field(default_factory=list)
    history: list[dict[str, object]] = field(default_factory=list)

    def written(self) -> None:
        self.new_records, self.messages, self.routes, self.history = [], [], [], []


class RecordDesk:
    def __init__(self, engine: Engine, outbox: Outbox, routing: Routing) -> None:
        self.engine = engine
        self.outbox = outbox
        self.routing = routing
        self.node_id = outbox.signer.node_id

    # -- in ------------------------------------------------------------------------------------

    def submit(
        self, batch: Sequence[Manifest], source: str, conn: Connection | None = None,
        *, partners: bool = True,
    ) -> list[Result]:  # fmt: skip
        """Store and route records in one transaction (or in the caller's: the inbox applies a
        partner's records in its own); one result per record, in order. `partners=False`: the
        records came from a partner centre and go to this country's boxes only."""
        if conn is None:
            with self.engine.begin() as own:
                return self.submit(batch, source, own, partners=partners)
        work = _Batch(stored=self._stored_many(conn, batch))
        results = [self._submit_one(conn, r, source, work, partners) for r in batch]
        self._finish(conn, work)
        # One line a batch (a drop file of 100,000 records is 100 of them), each record at DEBUG.
        counts: dict[str, int] = {}
        for result in results:
            counts[result.outcome.value] = counts.get(result.outcome.value, 0) + 1
            log_event(
                log, logging.DEBUG, "record." + result.outcome.value, issuer=result.issuer,
                ref=result.ref, version=result.version, boxes=len(result.routed_to),
                source=source,
            )  # fmt: skip
        if results:
            outcomes = " ".join(f"{outcome}={n}" for outcome, n in sorted(counts.items()))
            log_event(log, logging.INFO, "records.submitted", source=source, outcomes=outcomes)
        return results

    def cancel(self, issuer: str, ref: str, source: str, conn: Connection | None = None) -> Result:
        """Withdraw a record from every box (and partner centre) that holds it; it stays,
        cancelled, in the trace."""
        if conn is None:
            with self.engine.begin() as own:
                return self.cancel(issuer, ref, source, own)
        row = self._stored(conn, issuer, ref)
        if row is None:
            return Result(issuer, ref, 0, Outcome.REFUSED, reasons=("no such record",))
        version = int(row.version)
        if row.state == "cancelled":
            return Result(issuer, ref, version, Outcome.UNCHANGED)
        work = _Batch()
        held = self._held_by(conn, issuer, ref)
        self._withdraw(conn, issuer, ref, version, held, "CANCELLED", work)
        conn.execute(
            update(records)
            .where(records.c.id == row.id)
            .values(state="cancelled", updated_at=utcnow(), source=source[:200])
        )
        work.history.append(_event(issuer, ref, version, "cancelled", source))
        self._finish(conn, work)
        log_event(log, logging.INFO, "record.cancelled", issuer=issuer, ref=ref, boxes=len(held))
        return Result(issuer, ref, version, Outcome.CANCELLED, withdrawn_from=tuple(held))

    # -- out -----------------------------------------------------------------------------------

    def get(self, issuer: str, ref: str) -> StoredRecord | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(records.c.record, records.c.state, records.c.source).where(
                    records.c.issuer == issuer, records.c.ref == ref
                )
            ).first()
        if row is None:
            return None
        return StoredRecord(parse_manifest_json(row.record), row.state, row.source)

    def history(self, issuer: str, ref: str) -> list[dict[str, object]]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(record_history)
                .where(record_history.c.issuer == issuer, record_history.c.ref == ref)
                .order_by(record_history.c.id)
            )
            return [
                {"version": r.version, "action": r.action, "detail": r.detail, "at": r.at}
                for r in rows
            ]

    # -- the work --------------------------------------------------------------------------------

    def _submit_one(
        self, conn: Connection, record: Manifest, source: str, work: _Batch, partners: bool
    ) -> Result:
        issuer, ref, version = record.issuer, record.ref, record.version
        if (issuer, ref) in work.seen:
            # The same record twice in one submission: what came before it is written first.
            self._finish(conn, work)
            row = self._stored(conn, issuer, ref)
        else:
            row = work.stored.get((issuer, ref))
        work.seen.add((issuer, ref))
        text = record.to_json()
        now = utcnow()
        if row is not None:
            refusal = _refusal(row.state, int(row.version), row.record == text, version)
            if refusal is Outcome.UNCHANGED:
                return Result(issuer, ref, version, Outcome.UNCHANGED)
            if refusal is not None:
                return Result(issuer, ref, version, Outcome.REFUSED, reasons=(refusal,))
            conn.execute(
                update(records)
                .where(records.c.id == row.id)
                .values(version=version, record=text, source=source[:200], updated_at=now)
            )
            outcome = Outcome.AMENDED
        else:
            work.new_records.append({
                "issuer": issuer, "ref": ref, "version": version, "state": "active",
                "record": text, "source": source[:200], "received_at": now, "updated_at": now,
            })  # fmt: skip
            outcome = Outcome.ACCEPTED
        work.history.append(_event(issuer, ref, version, outcome.value, source))
        nodes = self.routing.nodes_for(record, partners=partners)
        held = self._held_by(conn, issuer, ref) if row is not None else []
        gone = [node for node in held if node not in nodes]
        self._withdraw(conn, issuer, ref, version, gone, "NOT_CONCERNED", work)
        self._route(conn, record, nodes, work, replace=row is not None)
        unserved = self.routing.unserved(record)
        if unserved:
            detail = "no box serves " + ", ".join(unserved)
            work.history.append(_event(issuer, ref, version, "unserved", detail))
        return Result(issuer, ref, version, outcome, tuple(nodes), tuple(gone), (), tuple(unserved))

    def _route(
        self, conn: Connection, record: Manifest, nodes: list[str], work: _Batch, replace: bool
    ) -> None:
        if not nodes:
            return
        message = ManifestMessage(record=record)
        for node in nodes:
            work.messages.append((message, node, self._stream(node)))
        self._set_routes(
            conn, record.issuer, record.ref, record.version, nodes, "held", work, replace
        )
        work.history.append(
            _event(record.issuer, record.ref, record.version, "routed", ", ".join(nodes))
        )

    def _withdraw(
        self, conn: Connection, issuer: str, ref: str, version: int, nodes: list[str],
        reason: str, work: _Batch,
    ) -> None:  # fmt: skip
        if not nodes:
            return
        message = ManifestWithdrawalMessage(issuer=issuer, ref=ref, version=version, reason=reason)
        for node in nodes:
            work.messages.append((message, node, self._stream(node)))
        self._set_routes(conn, issuer, ref, version, nodes, "withdrawn", work, replace=True)
        work.history.append(_event(issuer, ref, version, "withdrawn", ", ".join(nodes)))

    def _stream(self, node: str) -> str:
        # Records and their withdrawals share one ordered stream per box: a withdrawal is never
        # applied before the record it withdraws.
        return default_stream(self.node_id, node, ManifestMessage.TYPE)

    def _set_routes(
        self, conn: Connection, issuer: str, ref: str, version: int, nodes: list[str],
        state: str, work: _Batch, replace: bool,
    ) -> None:  # fmt: skip
        """Route rows for the messages just queued (the last len(nodes)), written in `_finish`
        with their message ids; `replace`: the record had routes, dropped here first."""
        now = utcnow()
        if replace:
            key = (record_routes.c.issuer == issuer) & (record_routes.c.ref == ref)
            conn.execute(record_routes.delete().where(key & record_routes.c.node.in_(nodes)))
        first = len(work.messages) - len(nodes)
        work.routes.extend(
            ({"issuer": issuer, "ref": ref, "node": node, "version": version, "state": state,
              "at": now}, first + index)
            for index, node in enumerate(nodes)
        )  # fmt: skip

    def _finish(self, conn: Connection, work: _Batch) -> None:
        if work.new_records:
            conn.execute(insert(records), work.new_records)
        if work.messages:
            ids = self.outbox.send_many(work.messages, conn)
            # Each route row names the message that carried its latest version.
            rows = [{**row, "message_id": ids[index]} for row, index in work.routes]
            conn.execute(insert(record_routes), rows)
        if work.history:
            conn.execute(insert(record_history), work.history)
        work.written()

    @staticmethod
    def _stored_many(conn: Connection, batch: Sequence[Manifest]) -> dict[_Key, _Stored]:
        """The stored rows of a submission's records, locked in one order (two instances
        amending overlapping records queue, never deadlock), a statement per 500."""
        keys = sorted({(r.issuer, r.ref) for r in batch})
        found: dict[_Key, _Stored] = {}
        key = tuple_(records.c.issuer, records.c.ref)
        for start in range(0, len(keys), STORED_LOOKUP):
            part = keys[start : start + STORED_LOOKUP]
            statement = _STORED.where(key.in_(part)).order_by(records.c.issuer, records.c.ref)
            rows = conn.execute(statement.with_for_update())
            found.update(((row.issuer, row.ref), row) for row in rows)
        return found

    @staticmethod
    def _stored(conn: Connection, issuer: str, ref: str) -> _Stored | None:
        statement = _STORED.where(records.c.issuer == issuer, records.c.ref == ref)
        # On PostgreSQL two instances amending one record queue here, one after the other.
        return conn.execute(statement.with_for_update()).first()

    @staticmethod
    def _held_by(conn: Connection, issuer: str, ref: str) -> list[str]:
        rows = conn.execute(
            select(record_routes.c.node).where(
                record_routes.c.issuer == issuer,
                record_routes.c.ref == ref,
                record_routes.c.state == "held",
            )
        )
        return sorted(rows.scalars())


def _refusal(state: str, stored: int, same_content: bool, version: int) -> str | Outcome | None:
    """Why a record cannot replace the stored one; UNCHANGED for a resend; None to go on."""
    if state == "cancelled":
        return f"cancelled at version {stored}; a cancelled record is not reissued, use a new ref"
    if version == stored:
        if same_content:
            return Outcome.UNCHANGED
        return (
            f"version {version} is already stored with other content; amend as version {stored + 1}"
        )
    if version < stored:
        return f"version {version} is older than the stored version {stored}"
    return None


def _event(issuer: str, ref: str, version: int, action: str, detail: str) -> dict[str, object]:
    return {
        "issuer": issuer, "ref": ref, "version": version, "action": action,
        "detail": detail[:300], "at": utcnow(),
    }  # fmt: skip
