"""What each received message type does to this box, inside the inbox's transaction.

A pre-arrival record (`manifest`, from the CIS) and an exit confirmation (from the partner's
exit post) both land in the e-manifest cache, where arriving trucks are matched against them;
arrivals, decisions, acknowledgements and telemetry of other nodes are kept as peer events.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from edge.logs import log_event
from edge.manifest_cache import ManifestCache, PreparedManifest
from edge.store.schema import peer_events
from sync.envelope import Envelope
from sync.inbox import Acknowledger, Applier
from sync.messages import (
    AckMessage,
    ExitConfirmationMessage,
    ManifestMessage,
    Message,
)
from sync.outbox import NoRouteError, Outbox

log = logging.getLogger(__name__)
ACK_IDS_PER_MESSAGE = 1000


def appliers(cache: ManifestCache, outbox: Outbox | None = None) -> dict[str, Applier]:
    def manifest(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, ManifestMessage)  # the envelope's type guarantees it
        cache.upsert_prepared([PreparedManifest.of(payload.record)], conn)

    def exit_confirmation(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, ExitConfirmationMessage)
        cache.upsert_prepared([PreparedManifest.of(payload.record)], conn)
        record_event(conn, envelope)

    def ack(conn: Connection, envelope: Envelope) -> None:
        payload = envelope.payload
        assert isinstance(payload, AckMessage)
        if outbox is not None:
            outbox.delivered(conn, payload.ids)

    return {
        "manifest": manifest,
        "exit_confirmation": exit_confirmation,
        "arrival": record_event,
        "decision": record_event,
        "ack": ack,
        "telemetry": record_event,
    }


def acknowledger(outbox: Outbox) -> Acknowledger:
    """Queue one `ack` message per origin for what the inbox took, in the inbox's transaction."""

    def acknowledge(conn: Connection, received: Sequence[tuple[str, str]]) -> None:
        by_origin: dict[str, list[str]] = {}
        for origin, message_id in received:
            by_origin.setdefault(origin, []).append(message_id)
        messages: list[tuple[Message, str, str | None]] = []
        for origin, ids in by_origin.items():
            try:
                outbox.peer_for(origin)
            except NoRouteError:
                log_event(log, logging.WARNING, "inbox.no_route_for_ack", origin=origin)
                continue
            for start in range(0, len(ids), ACK_IDS_PER_MESSAGE):
                chunk = tuple(ids[start : start + ACK_IDS_PER_MESSAGE])
                messages.append((AckMessage(ids=chunk), origin, None))
        if messages:
            outbox.send_many(messages, conn)

    return acknowledge


# Built once: the statement compiles once, each event only binds its values.
_INSERT_EVENT = sqlite_insert(peer_events).on_conflict_do_nothing(index_elements=["id"])


def record_event(conn: Connection, envelope: Envelope) -> None:
    """Keep another node's event (the inbox has already made sure it is new)."""
    conn.execute(
        _INSERT_EVENT,
        {
            "id": envelope.id,
            "type": envelope.type,
            "origin": envelope.origin,
            "created_at": envelope.created,
            "payload": envelope.payload.model_dump_json(exclude_none=True),
        },
    )
