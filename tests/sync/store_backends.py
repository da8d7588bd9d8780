"""Sync's store on either database, for `test_store_backends`: the box's real SQLite store
(`edge.store`, migrated by its alembic chain) or a PostgreSQL database holding `SYNC_TABLES`;
signed envelopes between two posts; and the workers that two OS processes run at once against
one PostgreSQL.

The workers are module functions (spawned processes import them by name); each opens its own
engine, waits at a barrier so that both start together, and reports through a queue.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from multiprocessing.queues import Queue
from multiprocessing.synchronize import Barrier
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import (
    Column,
    Connection,
    Engine,
    Integer,
    MetaData,
    String,
    Table,
    create_engine,
    func,
    select,
)

from edge.store.database import create_store_engine, migrate
from edge.store.schema import metadata
from edge.timeutil import utcnow
from sync.apply import acknowledger, record_events
from sync.envelope import Envelope, open_envelope, seal_new
from sync.inbox import Applier, Effects, Inbox, Incoming
from sync.messages import AckMessage, DecisionMessage, Message, TelemetryMessage
from sync.outbox import Outbox, Route, Signer
from sync.tables import SYNC_TABLES
from sync.topics import topic_for

EXIT, ENTRY = "KZ-NURZHOLY-1", "KG-TORUGART-1"
PEER = "partner"
# Fixed seeds: a spawned process makes the same keys as the test that started it.
_SEEDS = {EXIT: b"\x01" * 32, ENTRY: b"\x02" * 32}

# What each applied message did, one row per application: twice applied is two rows.
effects_metadata = MetaData()
effects = Table(
    "test_effects",
    effects_metadata,
    Column("n", Integer, primary_key=True),
    Column("message_id", String(36), nullable=False),
)


def private_key(node: str) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(_SEEDS[node])


def key_for(node: str, _certificate: bytes | None) -> Ed25519PublicKey:
    return private_key(node).public_key()


def open_store(url: str) -> Engine:
    """The store behind `url`: on SQLite the box's own (its PRAGMAs, its migrations), on
    PostgreSQL the sync tables as a centre's migration creates them."""
    if url.startswith("sqlite:///"):
        engine = create_store_engine(Path(url.removeprefix("sqlite:///")))
        migrate(engine)
    else:
        engine = create_engine(url, hide_parameters=True)
        metadata.create_all(engine, tables=list(SYNC_TABLES))
    effects_metadata.create_all(engine)
    return engine


def make_outbox(engine: Engine, node: str = EXIT, **options: Any) -> Outbox:
    routes = [Route("*", PEER)]
    return Outbox(engine, Signer(node, private_key(node)), routes, **options)


def count_effect(conn: Connection, envelopes: Sequence[Envelope]) -> None:
    conn.execute(effects.insert(), [{"message_id": e.id} for e in envelopes])


def make_inbox(engine: Engine, acks_through: Outbox | None = None, **options: Any) -> Inbox:
    """The entry post's inbox: decisions counted in `test_effects` and kept as peer events,
    telemetry kept, acks delivering the entry post's outbox; each ordered message acknowledged
    through `acks_through`."""

    def decisions(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        count_effect(conn, envelopes)
        record_events(conn, envelopes)

    def acks(conn: Connection, envelopes: Sequence[Envelope]) -> None:
        if acks_through is not None:
            ids = [i for e in envelopes for i in _ack(e).ids]
            acks_through.delivered(conn, ids)

    appliers: dict[str, Applier] = {
        "decision": Effects(decisions), "telemetry": Effects(record_events), "ack": Effects(acks),
    }  # fmt: skip
    acknowledge = acknowledger(acks_through) if acks_through is not None else None
    return Inbox(engine, ENTRY, key_for, appliers, acknowledge=acknowledge, **options)


def _ack(envelope: Envelope) -> AckMessage:
    assert isinstance(envelope.payload, AckMessage)
    return envelope.payload


def decision(n: int) -> DecisionMessage:
    """The decision on the exit post's arrival n + 1 (arrival ids start at 1)."""
    return DecisionMessage.model_validate({
        "arrival": {"node": EXIT, "arrival_id": n + 1}, "decision": "release", "reason": "OK",
        "officer": "officer-7", "decided_at": "2026-11-28T08:40:00Z",
    })  # fmt: skip


def telemetry(n: int) -> TelemetryMessage:
    return TelemetryMessage(metrics={"n": n})


def signed(
    message: Message,
    seq: int,
    *,
    stream: str | None = None,
    origin: str = EXIT,
    destination: str = ENTRY,
    signer: str | None = None,
    created: dt.datetime | None = None,
) -> Incoming:
    """One envelope from `origin` as the broker hands it over (signed by `signer`, to forge)."""
    stream = stream or f"{origin}/{destination}/{message.TYPE}"
    _, data = seal_new(
        message, private_key(signer or origin), origin, destination, seq=seq, stream=stream,
        created=created or utcnow(),
    )  # fmt: skip
    return Incoming(PEER, topic_for(origin, destination, message.TYPE), data)


def count(engine: Engine, table: Any) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())


def effect_ids(engine: Engine) -> list[str]:
    """The message ids whose effect was applied, in the order applied, once per application."""
    with engine.connect() as conn:
        return list(conn.execute(select(effects.c.message_id).order_by(effects.c.n)).scalars())


def opened(data: bytes, destination: str) -> Envelope:
    return open_envelope(
        data, key_for, expected_destination=destination, now=utcnow(), max_age=None
    )


# -- the workers: each in its own process, with its own engine -------------------------------


def take_until_empty(url: str, barrier: Barrier, results: Queue[Any], limit: int) -> None:
    """Take from the exit post's outbox until nothing is left; report every id taken."""
    engine = create_engine(url, hide_parameters=True)
    try:
        box = make_outbox(engine)
        taken: list[str] = []
        barrier.wait()
        while batch := box.take(PEER, limit):
            taken += [message.id for message in batch]
        results.put(("taken", taken))
    except BaseException as error:  # the test shows what failed in the process
        results.put(("error", repr(error)))
        raise
    finally:
        engine.dispose()


def send_on_shared_streams(
    url: str, barrier: Barrier, results: Queue[Any], streams: list[str], batches: int
) -> None:
    """Send `batches` batches, each one decision on every stream of `streams` in that order;
    report every id sent."""
    engine = create_engine(url, hide_parameters=True)
    try:
        box = make_outbox(engine)
        sent: list[str] = []
        barrier.wait()
        for n in range(batches):
            sent += box.send_many([(decision(n), ENTRY, stream) for stream in streams])
        results.put(("sent", sent))
    except BaseException as error:
        results.put(("error", repr(error)))
        raise
    finally:
        engine.dispose()


def receive_in_batches(
    url: str, barrier: Barrier, results: Queue[Any], items: list[Incoming], batch: int
) -> None:
    """Receive `items` in batches of `batch` through the entry post's inbox, acknowledging
    through its outbox; report how many each outcome had."""
    engine = create_engine(url, hide_parameters=True)
    try:
        inbox = make_inbox(engine, acks_through=make_outbox(engine, ENTRY))
        outcomes: dict[str, int] = {}
        barrier.wait()
        for start in range(0, len(items), batch):
            for result in inbox.receive(items[start : start + batch]):
                outcomes[result.outcome.value] = outcomes.get(result.outcome.value, 0) + 1
        results.put(("outcomes", outcomes))
    except BaseException as error:
        results.put(("error", repr(error)))
        raise
    finally:
        engine.dispose()
