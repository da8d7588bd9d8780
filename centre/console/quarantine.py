"""Quarantine, as the console's operators work it: the messages the inbox refused, inspected,
verified again by the real inbox (a trust store or the centre's appliers may have changed
since), released (applied, if they now pass) or discarded; each action audited with its reason.

Release goes through the inbox's own `check` and `apply`, so a released message is applied
exactly as if it had just arrived: once (the dedupe table), in its stream's order, and
acknowledged to its origin. The quarantined row goes when its message is applied (or found
applied before); if applying it refuses it again, the inbox keeps it again under its new
reason and the old row goes, so a message is in quarantine once, with its latest reason.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, delete, func, select

from centre.audit import audit, checked_reason
from centre.console.envelope_view import DecodedPart, decode_envelope
from edge.logs import log_event
from edge.store.schema import quarantine
from sync.envelope import Envelope
from sync.inbox import Checked, Incoming, Outcome, Result

log = logging.getLogger(__name__)


class Reverifier(Protocol):
    """What the console needs of the centre's inbox (`sync.inbox.Inbox` is one)."""

    def check(self, batch: Sequence[Incoming]) -> Checked: ...

    def apply(self, checked: Checked) -> list[Result]: ...


class QuarantineError(LookupError):
    """No such quarantined message (released or discarded meanwhile), naming it."""


@dataclass(frozen=True)
class Quarantined:
    id: int
    received_at: dt.datetime
    peer: str
    topic: str
    reason: str
    detail: str
    message_id: str | None
    origin: str | None
    size: int


@dataclass(frozen=True)
class PartVerdict:
    passes: bool
    message_id: str | None = None
    type: str | None = None
    origin: str | None = None
    reason: str | None = None
    detail: str | None = None


@dataclass(frozen=True)
class Verdict:
    parts: tuple[PartVerdict, ...]

    @property
    def passes(self) -> bool:
        return bool(self.parts) and all(p.passes for p in self.parts)

    def summary(self) -> str:
        refused = sorted({p.reason or "" for p in self.parts if not p.passes})
        return "passes" if self.passes else "refused: " + ", ".join(refused)


@dataclass(frozen=True)
class Released:
    applied: bool
    verdict: Verdict
    outcome: str  # as audited


_COLUMNS = (
    quarantine.c.id, quarantine.c.received_at, quarantine.c.peer, quarantine.c.topic,
    quarantine.c.reason, quarantine.c.detail, quarantine.c.message_id, quarantine.c.origin,
    func.length(quarantine.c.raw).label("size"),
)  # fmt: skip


class QuarantineDesk:
    def __init__(self, engine: Engine, inbox: Reverifier | None) -> None:
        self.engine = engine
        self.inbox = inbox

    def latest(self, limit: int = 200) -> list[Quarantined]:
        """The latest quarantined messages first."""
        query = select(*_COLUMNS).order_by(quarantine.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            return [Quarantined(*row) for row in conn.execute(query)]

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(quarantine)).scalar_one())

    def get(self, item_id: int) -> tuple[Quarantined, bytes]:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(*_COLUMNS, quarantine.c.raw).where(quarantine.c.id == item_id)
            ).first()
        if row is None:
            raise QuarantineError(f"quarantine {item_id}: no such message (released or discarded?)")
        return Quarantined(*row[:-1]), bytes(row.raw)

    def decoded(self, item_id: int) -> list[DecodedPart]:
        return decode_envelope(self.get(item_id)[1])

    def reverify(self, item_id: int, operator: str) -> Verdict:
        """The message through the inbox's verification again; nothing applied."""
        item, raw = self.get(item_id)
        verdict = _verdict(self._inbox().check([Incoming(item.peer, item.topic, raw)]))
        with self.engine.begin() as conn:
            audit(conn, operator, "quarantine.reverify", f"quarantine:{item_id}", "",
                  verdict.summary())  # fmt: skip
        log_event(log, logging.INFO, "console.quarantine_reverified", item=item_id,
                  operator=operator, passes=verdict.passes)  # fmt: skip
        return verdict

    def release(self, item_id: int, operator: str, reason: str) -> Released:
        """Verify again and, if it now passes, apply it through the inbox."""
        why = checked_reason(reason)
        item, raw = self.get(item_id)
        inbox = self._inbox()
        checked = inbox.check([Incoming(item.peer, item.topic, raw)])
        verdict = _verdict(checked)
        applied = False
        if not verdict.passes:
            outcome = "not released: " + verdict.summary()
        else:
            results = inbox.apply(checked)
            again = sorted({r.reason or "" for r in results if r.outcome is Outcome.QUARANTINED})
            applied = not again
            outcome = "released: " + ", ".join(sorted({r.outcome.value for r in results}))
            if again:
                outcome = "quarantined again: " + ", ".join(again)
        with self.engine.begin() as conn:
            if verdict.passes:
                conn.execute(delete(quarantine).where(quarantine.c.id == item_id))
            audit(conn, operator, "quarantine.release", f"quarantine:{item_id}", why, outcome)
        log_event(log, logging.INFO, "console.quarantine_release", item=item_id,
                  operator=operator, applied=applied)  # fmt: skip
        return Released(applied, verdict, outcome)

    def discard(self, item_id: int, operator: str, reason: str) -> None:
        why = checked_reason(reason)
        item, _raw = self.get(item_id)
        with self.engine.begin() as conn:
            gone = conn.execute(delete(quarantine).where(quarantine.c.id == item_id)).rowcount
            if not gone:
                raise QuarantineError(f"quarantine {item_id}: discarded meanwhile")
            audit(conn, operator, "quarantine.discard", f"quarantine:{item_id}", why,
                  f"discarded: {item.reason}")  # fmt: skip
        log_event(log, logging.INFO, "console.quarantine_discard", item=item_id,
                  operator=operator)  # fmt: skip

    def _inbox(self) -> Reverifier:
        if self.inbox is None:
            raise QuarantineError("re-verification: this console was started without the inbox")
        return self.inbox


def _verdict(checked: Checked) -> Verdict:
    parts = []
    for _item, outcome in checked.verified:
        if isinstance(outcome, Envelope):
            parts.append(PartVerdict(True, outcome.id, outcome.type, outcome.origin))
        else:
            parts.append(PartVerdict(False, reason=outcome.reason.value, detail=outcome.detail))
    return Verdict(tuple(parts))
