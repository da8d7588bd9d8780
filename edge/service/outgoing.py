"""What a decision sends: the decision itself to the national system, and, for a truck the
exit post released with a pre-arrival record, an exit confirmation to the partner country's
entry post, where it becomes pre-arrival information."""

from __future__ import annotations

from sqlalchemy import select

from edge.config import SyncConfig
from edge.decisions import Decision, DecisionKind
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache
from edge.store.schema import manifests
from sync.messages import DecisionMessage, ExitConfirmationMessage, Message


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
    out += [(message, destination, None) for destination in config.decisions_to]
    if record is not None and decision.kind is DecisionKind.RELEASE:
        confirmation = ExitConfirmationMessage(
            record=record, exited_at=decision.decided_at, seals=record.seals, exit_node=node_id
        )
        out += [(confirmation, destination, None) for destination in config.exit_confirmations_to]
    return out


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
