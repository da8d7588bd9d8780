"""What each received message type does to this box, inside the inbox's transaction.

A pre-arrival record (`manifest`, from the CIS) and an exit confirmation (from the partner's
exit post) both land in the e-manifest cache, where arriving trucks are matched against them;
arrivals, decisions, acknowledgements and telemetry of other nodes are kept as peer events.
"""

from __future__ import annotations

import json

from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from edge.manifest_cache import ManifestCache, PreparedManifest
from edge.store.schema import peer_events
from sync.envelope import Envelope
from sync.inbox import Applier
from sync.messages import ExitConfirmationMessage, ManifestMessage, payload_json


def appliers(cache: ManifestCache) -> dict[str, Applier]:
    def manifest(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, ManifestMessage)  # the envelope's type guarantees it
        cache.upsert_prepared([PreparedManifest.of(payload.record)], conn)

    def exit_confirmation(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, ExitConfirmationMessage)
        cache.upsert_prepared([PreparedManifest.of(payload.record)], conn)
        record_event(conn, envelope)

    return {
        "manifest": manifest,
        "exit_confirmation": exit_confirmation,
        "arrival": record_event,
        "decision": record_event,
        "ack": record_event,
        "telemetry": record_event,
    }


def record_event(conn: Connection, envelope: Envelope) -> None:
    """Keep another node's event (the inbox has already made sure it is new)."""
    statement = sqlite_insert(peer_events).values(
        id=envelope.id,
        type=envelope.type,
        origin=envelope.origin,
        created_at=envelope.created,
        payload=json.dumps(payload_json(envelope.payload), ensure_ascii=False),
    )
    conn.execute(statement.on_conflict_do_nothing(index_elements=["id"]))
