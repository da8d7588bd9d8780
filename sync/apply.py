"""What each received message type does to this box, inside the inbox's transaction.

A pre-arrival record (`manifest`, from the CIS) and an exit confirmation (from the partner's
exit post) both land in the e-manifest cache, where arriving trucks are matched against them;
arrivals, decisions, acknowledgements and telemetry of other nodes are kept as peer events.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Sequence
from typing import TypeVar

from sqlalchemy import Connection

from edge.logs import log_event
from edge.manifest_cache import ManifestCache, PreparedManifest
from edge.timeutil import format_utc
from sync.dialect import sync_sql
from sync.envelope import Envelope
from sync.inbox import Acknowledger, Applier, Effects
from sync.messages import (
    AckMessage,
    ExitConfirmationMessage,
    ManifestMessage,
    Message,
)
from sync.outbox import NoRouteError, Outbox
from sync.withdrawals import withdrawal_effects

log = logging.getLogger(__name__)
ACK_IDS_PER_MESSAGE = 1000


def appliers(cache: ManifestCache, outbox: Outbox | None = None) -> dict[str, Applier]:
    def manifests(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        records = [_payload(e, ManifestMessage).record for e in envelopes]
        cache.upsert_prepared([PreparedManifest.of(record) for record in records], conn)

    def exit_confirmations(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        prepared = [
            PreparedManifest.of(_payload(e, ExitConfirmationMessage).record) for e in envelopes
        ]
        cache.upsert_prepared(prepared, conn)
        # The record's JSON is written once, for the cache and inside the event alike.
        events = [
            exit_confirmation_json(_payload(e, ExitConfirmationMessage), p.record_json)
            for e, p in zip(envelopes, prepared, strict=True)
        ]
        record_events(conn, envelopes, events)

    def acks(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        if outbox is not None:
            outbox.delivered(conn, [i for e in envelopes for i in _payload(e, AckMessage).ids])

    return {
        "manifest": Effects(manifests),
        "exit_confirmation": Effects(exit_confirmations),
        "manifest_withdrawal": withdrawal_effects(cache),
        "arrival": Effects(record_events),
        "decision": Effects(record_events),
        "ack": Effects(acks),
        "telemetry": Effects(record_events),
    }


_M = TypeVar("_M", bound=Message)


def _payload(envelope: Envelope, kind: type[_M]) -> _M:
    payload = envelope.payload
    assert isinstance(payload, kind)  # the envelope's type guarantees it
    return payload


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


def record_events(
    conn: Connection, envelopes: Sequence[Envelope], payloads: Sequence[str] | None = None
) -> None:
    """Keep other nodes' events, in one statement (the inbox has made sure they are new); each
    payload as `model_dump_json(exclude_none=True)` writes it, or as given in `payloads`."""
    if payloads is None:
        payloads = [envelope.payload.model_dump_json(exclude_none=True) for envelope in envelopes]
    created: dict[dt.datetime, str] = {}  # a sender's batch shares one time
    rows = []
    for envelope, payload in zip(envelopes, payloads, strict=True):
        when = created.get(envelope.created)
        if when is None:
            when = created[envelope.created] = format_utc(envelope.created)
        rows.append((envelope.id, envelope.type, envelope.origin, when, payload))
    # Plain executemany through the driver: no per-row work of SQLAlchemy's, on the inbox's
    # hot path (times stored as `edge.store.schema.UtcTime` stores them).
    conn.exec_driver_sql(sync_sql(conn).insert_event, rows)


def exit_confirmation_json(message: ExitConfirmationMessage, record_json: str) -> str:
    """`message.model_dump_json(exclude_none=True)`, given its record's `to_json()`: the record
    is its first field, so the rest is written alone and joined on."""
    rest = message.model_dump_json(exclude_none=True, exclude=_RECORD)
    return f'{{"record":{record_json}{"," if rest != "{}" else ""}{rest[1:]}'


_RECORD = {"record"}
