"""An outbox written by the release before `outbox_envelopes` (migration 0005) still drains
after the upgrade: every waiting message leaves, in its queue order, signed as it was, and is
applied once at the receiver."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.engine.interfaces import ReflectedColumn

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.database import _MIGRATIONS, create_store_engine
from edge.store.schema import outbox
from sync.apply import appliers
from sync.envelope import Envelope, KeyLookup, seal
from sync.inbox import Inbox, Incoming, Outcome
from sync.messages import ArrivalMessage, DecisionMessage, Message
from sync.outbox import Outbox, Route, Signer
from sync.topics import topic_of
from tests.sync.crossing import ENTRY, EXIT

KEY = Ed25519PrivateKey.generate()


def migrate_to(engine: Engine, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def arrival(n: int) -> ArrivalMessage:
    return ArrivalMessage.model_validate(
        {"node": EXIT, "lane": "1", "arrival_id": n, "opened_at": "2026-11-28T08:30:00Z"}
    )


def decision(n: int) -> DecisionMessage:
    return DecisionMessage.model_validate({
        "arrival": {"node": EXIT, "arrival_id": n}, "decision": "release", "reason": "OK",
        "officer": "officer-1", "decided_at": "2026-11-28T08:40:00Z",
    })  # fmt: skip


def write_as_release_0004(engine: Engine, messages: list[tuple[Message, int, str]]) -> list[str]:
    """Rows as the 0004 outbox held them: the envelope in the `outbox` row itself."""
    ids = []
    now = "2026-11-28T08:45:00.000000Z"
    with engine.begin() as conn:
        for payload, seq, state in messages:
            envelope = Envelope.new(payload, origin=EXIT, destination=ENTRY, seq=seq)
            rank = 0 if payload.TYPE == "decision" else 1
            conn.execute(
                text(
                    "INSERT INTO outbox (id, peer, rank, type, destination, stream, seq, topic,"
                    " envelope, created_at, state, attempts) VALUES (:id, 'hub', :rank, :type,"
                    " :destination, :stream, :seq, :topic, :envelope, :now, :state, 0)"
                ),
                {
                    "id": envelope.id, "rank": rank, "type": envelope.type,
                    "destination": ENTRY, "stream": envelope.stream, "seq": seq,
                    "topic": topic_of(envelope), "envelope": seal(envelope, KEY, EXIT),
                    "now": now, "state": state,
                },
            )  # fmt: skip
            ids.append(envelope.id)
    return ids


def test_an_outbox_of_the_previous_schema_drains_after_the_upgrade(tmp_path: Path) -> None:
    sender_dir = tmp_path / "sender"
    sender_dir.mkdir()
    old = create_store_engine(sender_dir / "carec-edge.sqlite3")
    migrate_to(old, "0004")
    ids = write_as_release_0004(
        old,
        [
            (arrival(1), 1, "delivered"),  # done before the upgrade: stays done
            (arrival(2), 2, "acked"),  # the broker had it, the receiver had not said so
            (arrival(3), 3, "inflight"),  # in flight when the old release stopped
            (arrival(4), 4, "pending"),
            (decision(1), 1, "pending"),  # evidence: first out, whatever was written before
        ],
    )
    old.dispose()

    engine = open_database(sender_dir)  # migrates to head
    with engine.connect() as conn:
        assert "envelope" not in {c["name"] for c in _columns(conn, "outbox")}
    box = Outbox(engine, Signer(EXIT, KEY), [Route("*", "hub")])
    assert box.requeue_inflight("hub") == 1  # as the link does when it starts
    taken = box.take("hub", 10)
    assert [m.id for m in taken] == [ids[4], ids[2], ids[3]]  # evidence first, then rowid order

    receiver = open_database(tmp_path / "receiver")
    inbox = Inbox(receiver, ENTRY, _trusting(KEY.public_key()), appliers(ManifestCache(receiver)))
    topic = f"carec/v1/KZ/{EXIT}/to/{ENTRY}/operational/arrival"
    # What the receiver had from the old release: the delivered one and the broker-acked one.
    inbox.receive([Incoming("hub", topic, _envelope_of(engine, i)) for i in ids[:2]])
    results = inbox.receive([Incoming("hub", m.topic, m.envelope) for m in taken])
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 3
    box.acknowledged([m.id for m in taken])
    with engine.begin() as conn:
        assert box.delivered(conn, ids[1:]) == 4
        states = {row.id: row.state for row in conn.execute(outbox.select())}
    assert set(states.values()) == {"delivered"}
    assert box.unconfirmed("hub") == []


def test_the_upgrade_keeps_each_envelope_byte_for_byte(tmp_path: Path) -> None:
    old = create_store_engine(tmp_path / "carec-edge.sqlite3")
    migrate_to(old, "0004")
    ids = write_as_release_0004(old, [(arrival(n), n, "pending") for n in range(1, 4)])
    with old.connect() as conn:
        before: dict[str, bytes] = {
            row.id: row.envelope for row in conn.execute(text("SELECT id, envelope FROM outbox"))
        }
    old.dispose()
    box = Outbox(open_database(tmp_path), Signer(EXIT, KEY), [Route("*", "hub")])
    assert [(m.id, m.envelope) for m in box.take("hub", 10)] == [(i, before[i]) for i in ids]


def _columns(conn: Connection, table: str) -> list[ReflectedColumn]:
    return inspect(conn).get_columns(table)


def _envelope_of(engine: Engine, message_id: str) -> bytes:
    with engine.connect() as conn:
        return bytes(
            conn.execute(
                text("SELECT envelope FROM outbox_envelopes WHERE id = :id"), {"id": message_id}
            ).scalar_one()
        )


def _trusting(key: Ed25519PublicKey) -> KeyLookup:
    def key_for(origin: str, certificate: bytes | None) -> Ed25519PublicKey:
        assert origin == EXIT
        return key

    return key_for
