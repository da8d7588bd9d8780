"""What a decision sends: the decision itself to the national system, with (the first time the
truck is decided) the arrival it decides: what the cameras read, the record it fitted, its
discrepancies and lane, the centre's figures per post, day and lane; and, for a truck the exit
post released with a pre-arrival record, an exit confirmation to the partner country's entry
post, where it becomes pre-arrival information."""

from __future__ import annotations

from sqlalchemy import Engine, select

from edge.arrivals import ArrivalStore
from edge.config import SyncConfig
from edge.decisions import Decision, DecisionKind
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache
from edge.store.schema import decisions, manifests
from sync.messages import ArrivalMessage, DecisionMessage, ExitConfirmationMessage, Message


def messages_for(
    decision: Decision, node_id: str, config: SyncConfig, cache: ManifestCache
) -> list[tuple[Message, str, str | None]]:
    if not decision.kind.is_final:
        return []  # a reopening stays on the box; its later decision goes
    record = _record(cache, decision)
    out: list[tuple[Message, str, str | None]] = []
    message = DecisionMessage.model_validate(
        {
            "arrival": {"node": node_id, "arrival_id": decision.arrival_id},
            "manifest": (
                {"ref": record.ref, "issuer": record.issuer, "version": record.version}
                if record
                else None
            ),
            "decision": decision.kind,
            "reason": decision.reason.value,
            "note": decision.note,
            "officer": decision.officer_id,
            "decided_at": decision.decided_at,
        }
    )
    if config.decisions_to and _first_final(cache.engine, decision):
        arrival = arrival_message(cache.engine, decision, node_id)
        if arrival is not None:
            out += [(arrival, destination, None) for destination in config.decisions_to]
    out += [(message, destination, None) for destination in config.decisions_to]
    if record is not None and decision.kind is DecisionKind.RELEASE:
        confirmation = ExitConfirmationMessage(
            record=record, exited_at=decision.decided_at, seals=record.seals, exit_node=node_id
        )
        out += [(confirmation, destination, None) for destination in config.exit_confirmations_to]
    return out


def arrival_message(engine: Engine, decision: Decision, node_id: str) -> ArrivalMessage | None:
    """The arrival `decision` is on, as the centre counts it; None if it is gone."""
    arrival = ArrivalStore(engine).get(decision.arrival_id, crops=False)
    if arrival is None:
        return None
    reads = []
    for reading in arrival.readings:
        candidates = reading.data.get("candidates") if reading.kind == "plate" else None
        if isinstance(candidates, list) and candidates and isinstance(candidates[0], dict):
            best = candidates[0]
            text = str(best.get("text", ""))[:32]
            reads.append(
                {
                    "text": text,
                    "confidence": best.get("confidence"),
                    "position": best.get("position"),
                }
            )
    match = arrival.match or {}
    found = match.get("discrepancies")
    codes = [d["code"] for d in found if isinstance(d, dict)] if isinstance(found, list) else []
    ambiguous = match.get("ambiguous")
    return ArrivalMessage.model_validate(
        {
            "node": node_id, "lane": arrival.lane, "arrival_id": arrival.id,
            "opened_at": arrival.opened_at, "plate_reads": [r for r in reads if r["text"]][:32],
            "best_ref": arrival.best_ref, "best_score": arrival.best_score,
            "discrepancies": list(dict.fromkeys(codes))[:32],
            "ambiguous": ambiguous if isinstance(ambiguous, bool) else None,
            "risk_lane": decision.risk_lane.value if decision.risk_lane else None,
        }
    )  # fmt: skip


def _first_final(engine: Engine, decision: Decision) -> bool:
    """Whether no final decision on the arrival came before this one (one that was reopened
    has sent its arrival already)."""
    with engine.connect() as conn:
        earlier = conn.execute(
            select(decisions.c.id)
            .where(
                decisions.c.arrival_id == decision.arrival_id,
                decisions.c.id < decision.id,
                decisions.c.kind.in_([k.value for k in DecisionKind if k.is_final]),
            )
            .limit(1)
        ).first()
    return earlier is None


def _record(cache: ManifestCache, decision: Decision) -> Manifest | None:
    if decision.record is None:
        return None
    with cache.engine.connect() as conn:
        found = conn.execute(
            select(manifests.c.id).where(
                manifests.c.issuer == decision.record.issuer, manifests.c.ref == decision.record.ref
            )
        ).scalar()
    stored = cache.get([found]) if found is not None else []
    return stored[0].record if stored else None
