"""The outbox and the inbox on real SQLite files, without a broker: durability, order,
priority, drops, and the inbox applying each message once or quarantining it."""

from __future__ import annotations

import base64
import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, select

from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import inbox_applied, outbox, quarantine
from edge.timeutil import utcnow
from sync.apply import acknowledger, appliers
from sync.envelope import Envelope, seal
from sync.inbox import Inbox, Incoming, Outcome
from sync.messages import DecisionMessage, ManifestMessage, Priority, TelemetryMessage
from sync.outbox import Outbox, Route, Signer
from sync.topics import topic_of
from sync.transport import TokenBucket
from tests.fixtures.records import record

EXIT, ENTRY, CIS = "KZ-NURZHOLY-1", "KG-TORUGART-1", "KZ-CIS"
KEYS = {node: Ed25519PrivateKey.generate() for node in (EXIT, ENTRY, CIS)}


def key_for(node: str, _cert: bytes | None) -> Ed25519PublicKey:
    return KEYS[node].public_key()


def make_outbox(engine: Engine, node: str = EXIT, **kw: object) -> Outbox:
    routes = [Route("KG-*", "partner"), Route("KZ-*", "cis")]
    return Outbox(engine, Signer(node, KEYS[node]), routes, **kw)  # type: ignore[arg-type]


def manifest(ref: str) -> ManifestMessage:
    return ManifestMessage(record=parse_manifest(record(ref=ref)))


def decision(n: int) -> DecisionMessage:
    return DecisionMessage.model_validate({
        "arrival": {"node": EXIT, "arrival_id": n}, "decision": "release", "reason": "OK",
        "officer": "officer-7", "decided_at": "2026-11-28T08:40:00Z",
    })  # fmt: skip


def telemetry(n: int) -> TelemetryMessage:
    return TelemetryMessage(metrics={"n": n})


def test_a_sent_message_is_on_disk_before_send_returns(tmp_path: Path) -> None:
    box = make_outbox(open_database(tmp_path))
    message_id = box.send(manifest("R1"), ENTRY)
    other = open_database(tmp_path)  # another connection, as after a crash
    with other.connect() as conn:
        row = conn.execute(select(outbox).where(outbox.c.id == message_id)).one()
    assert (row.state, row.peer, row.seq) == ("pending", "partner", 1)
    assert row.topic == f"carec/v1/KZ/{EXIT}/to/{ENTRY}/operational/manifest"


def test_each_stream_numbers_its_messages(engine: Engine) -> None:
    box = make_outbox(engine)
    box.send_many([(manifest(f"R{i}"), ENTRY, None) for i in range(3)])
    box.send(decision(1), ENTRY)
    taken = box.take("partner", 10)
    assert [(m.stream.rsplit("/", 1)[1], m.seq) for m in taken] == [
        ("decision", 1), ("manifest", 1), ("manifest", 2), ("manifest", 3),
    ]  # fmt: skip


def test_evidence_overtakes_a_backlog(engine: Engine) -> None:
    box = make_outbox(engine)
    box.send_many([(telemetry(i), ENTRY, None) for i in range(5)])
    box.send_many([(manifest(f"R{i}"), ENTRY, None) for i in range(5)])
    box.send(decision(1), ENTRY)
    assert [m.priority for m in box.take("partner", 3)] == [
        Priority.EVIDENCE, Priority.OPERATIONAL, Priority.OPERATIONAL,
    ]  # fmt: skip


def test_inflight_goes_back_to_pending_and_acked_is_done(engine: Engine) -> None:
    box = make_outbox(engine)
    ids = box.send_many([(manifest(f"R{i}"), ENTRY, None) for i in range(4)])
    first = box.take("partner", 2)
    assert box.take("partner", 10)[0].id == ids[2]
    box.acknowledged([first[0].id])
    assert box.requeue_inflight("partner") == 3
    assert [m.id for m in box.take("partner", 10)] == ids[1:]


def test_telemetry_is_capped_oldest_first_and_counted(engine: Engine) -> None:
    box = make_outbox(engine, telemetry_cap=3)
    ids = box.send_many([(telemetry(i), ENTRY, None) for i in range(5)])
    box.send(decision(1), ENTRY)
    assert [m.id for m in box.take("partner", 10)][1:] == ids[2:]
    status = {(s.peer, s.priority): s for s in box.status()}
    assert status[("partner", Priority.TELEMETRY)].dropped == 2
    assert status[("partner", Priority.EVIDENCE)].dropped == 0


def test_expired_telemetry_is_not_sent(engine: Engine) -> None:
    box = make_outbox(engine, telemetry_ttl=dt.timedelta(seconds=-1))
    box.send(telemetry(1), ENTRY)
    assert box.take("partner", 10) == []
    status = {(s.peer, s.priority): s for s in box.status()}
    assert status[("partner", Priority.TELEMETRY)].expired == 1


# -- the inbox -----------------------------------------------------------------------------


def entry_inbox(tmp_path: Path) -> tuple[Inbox, ManifestCache]:
    engine = open_database(tmp_path / "entry")
    cache = ManifestCache(engine)
    return Inbox(engine, ENTRY, key_for, appliers(cache)), cache


def sealed(
    message: object,
    origin: str = EXIT,
    destination: str = ENTRY,
    signer: str | None = None,
    **fields: object,
) -> Incoming:
    envelope = Envelope.new(message, origin=origin, destination=destination, seq=1, **fields)  # type: ignore[arg-type]
    data = seal(envelope, KEYS[signer or origin], origin)
    return Incoming("partner", topic_of(envelope), data)


def quarantined(inbox: Inbox) -> list[tuple[str, str]]:
    with inbox.engine.connect() as conn:
        return [(r.reason, r.detail) for r in conn.execute(select(quarantine))]


def test_a_manifest_is_applied_once(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    item = sealed(manifest("R1"))
    assert [r.outcome for r in inbox.receive([item, item])] == [Outcome.APPLIED, Outcome.DUPLICATE]
    assert [r.outcome for r in inbox.receive([item])] == [Outcome.DUPLICATE]  # a replay, later
    assert cache.count() == 1
    with inbox.engine.connect() as conn:
        assert conn.execute(select(inbox_applied.c.type)).scalars().all() == ["manifest"]


def test_wrongly_signed_is_quarantined_with_no_effect(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    result = inbox.receive([sealed(manifest("R1"), signer=CIS)])[0]
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "bad_signature")
    assert cache.count() == 0
    assert quarantined(inbox)[0][0] == "bad_signature"


def test_unsigned_is_quarantined(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    item = sealed(manifest("R1"))
    header, payload, _ = item.data.split(b".")
    none_header = base64.urlsafe_b64encode(
        json.dumps({"alg": "none", "kid": EXIT}).encode()
    ).rstrip(b"=")
    for forged in (header + b"." + payload + b".", none_header + b"." + payload + b"."):
        assert inbox.receive([Incoming("partner", item.topic, forged)])[0].reason in (
            "unsigned",
            "malformed",
            "bad_signature",
        )
    assert cache.count() == 0
    assert len(quarantined(inbox)) == 2


@pytest.mark.parametrize(
    ("make", "reason"),
    [
        (lambda: sealed(manifest("R1"), destination="KG-OTHER-2"), "wrong_destination"),
        (
            lambda: Incoming(
                "partner",
                "carec/v1/KZ/KZ-NURZHOLY-1/to/KG-TORUGART-1/evidence/decision",
                sealed(manifest("R1")).data,
            ),
            "topic_mismatch",
        ),
        (lambda: Incoming("partner", "x", b"not a jws at all"), "malformed"),
        (lambda: Incoming("partner", "x", b"A" * (300 * 1024)), "oversized"),
        (lambda: sealed(telemetry(1), now=dt.datetime(2020, 1, 1, tzinfo=dt.UTC)), "expired"),
    ],
    ids=["wrong destination", "topic mismatch", "malformed", "oversized", "expired"],
)
def test_bad_messages_are_quarantined_with_their_reason(
    tmp_path: Path, make: object, reason: str
) -> None:
    inbox, cache = entry_inbox(tmp_path)
    result = inbox.receive([make()])[0]  # type: ignore[operator]
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, reason)
    assert cache.count() == 0
    with inbox.engine.connect() as conn:
        assert conn.execute(select(inbox_applied)).all() == []


def test_one_bad_message_does_not_undo_the_good_ones(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    batch = [sealed(manifest("R1")), sealed(manifest("R2"), signer=CIS), sealed(manifest("R3"))]
    assert [r.outcome for r in inbox.receive(batch)] == [
        Outcome.APPLIED,
        Outcome.QUARANTINED,
        Outcome.APPLIED,
    ]
    assert cache.count() == 2


def test_an_unknown_origin_is_quarantined(tmp_path: Path) -> None:
    inbox, _ = entry_inbox(tmp_path)
    stranger = Ed25519PrivateKey.generate()
    envelope = Envelope.new(manifest("R1"), origin="UZ-YALLAMA-1", destination=ENTRY, seq=1)
    data = seal(envelope, stranger, "UZ-YALLAMA-1")
    assert (
        inbox.receive([Incoming("partner", topic_of(envelope), data)])[0].reason == "unknown_origin"
    )


# -- order, gaps and the receiver's acknowledgement -----------------------------------------


def stream_of(tmp_path: Path, count: int) -> list[Incoming]:
    """`count` manifests of one stream from EXIT, as its outbox signed them."""
    box = make_outbox(open_database(tmp_path / "exit"))
    box.send_many([(manifest(f"R{i}"), ENTRY, None) for i in range(count)])
    return [Incoming("partner", m.topic, m.envelope) for m in box.take("partner", count)]


def test_a_message_ahead_of_a_gap_waits_for_it(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    one, two, three = stream_of(tmp_path, 3)
    assert [r.outcome for r in inbox.receive([one, three])] == [Outcome.APPLIED, Outcome.PARKED]
    assert cache.count() == 1
    assert [r.outcome for r in inbox.receive([two])] == [Outcome.APPLIED]
    assert cache.count() == 3
    with inbox.engine.connect() as conn:
        seqs = (
            conn.execute(select(inbox_applied.c.seq).order_by(inbox_applied.c.seq)).scalars().all()
        )
    assert seqs == [1, 2, 3]
    assert [r.outcome for r in inbox.receive([three])] == [Outcome.DUPLICATE]


def test_a_gap_that_never_fills_is_given_up_after_the_timeout(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    _, two, three = stream_of(tmp_path, 3)
    inbox.receive([three, two])
    assert cache.count() == 0
    assert inbox.release_gaps(utcnow()) == 0
    assert inbox.release_gaps(utcnow() + dt.timedelta(minutes=11)) == 1
    assert cache.count() == 2


def test_the_receiver_acknowledges_and_the_sender_stops_resending(tmp_path: Path) -> None:
    exit_engine, entry_engine = open_database(tmp_path / "exit"), open_database(tmp_path / "entry")
    sender = make_outbox(exit_engine, redeliver_after=dt.timedelta(seconds=-1))
    sent = sender.send(decision(7), ENTRY)
    message = sender.take("partner", 1)[0]
    sender.acknowledged([message.id])  # the broker's PUBACK: not enough for evidence
    assert sender.redeliver_overdue("partner") == 1
    message = sender.take("partner", 1)[0]
    sender.acknowledged([message.id])
    # The entry post applies it and queues its ack to the exit post, in one transaction.
    receiver_box = make_outbox(entry_engine, node=ENTRY)
    receiver = Inbox(
        entry_engine,
        ENTRY,
        key_for,
        appliers(ManifestCache(entry_engine), receiver_box),
        acknowledge=acknowledger(receiver_box),
    )
    receiver.receive([Incoming("partner", message.topic, message.envelope)])
    ack = receiver_box.take("cis", 5)
    assert [a.stream.rsplit("/", 1)[1] for a in ack] == ["ack"]
    # Back at the exit post, the ack marks the decision delivered: no more resending.
    exit_inbox = Inbox(exit_engine, EXIT, key_for, appliers(ManifestCache(exit_engine), sender))
    assert (
        exit_inbox.receive([Incoming("cis", ack[0].topic, ack[0].envelope)])[0].outcome
        is Outcome.APPLIED
    )
    assert sender.redeliver_overdue("partner") == 0
    with exit_engine.connect() as conn:
        assert (
            conn.execute(select(outbox.c.state).where(outbox.c.id == sent)).scalar() == "delivered"
        )


def test_a_message_of_a_type_this_box_does_not_apply_is_quarantined(tmp_path: Path) -> None:
    engine = open_database(tmp_path / "entry")
    only_manifests = {"manifest": appliers(ManifestCache(engine))["manifest"]}
    inbox = Inbox(engine, ENTRY, key_for, only_manifests)
    result = inbox.receive([sealed(decision(1))])[0]
    assert (result.outcome, result.reason) == (Outcome.QUARANTINED, "unknown_type")
    with engine.connect() as conn:
        assert conn.execute(select(inbox_applied)).all() == []


def test_the_bandwidth_cap_lets_a_second_of_bytes_through_then_refills() -> None:
    now = [100.0]
    bucket = TokenBucket(rate=3000, clock=lambda: now[0])
    assert [bucket.take(1000) for _ in range(4)] == [True, True, True, False]
    now[0] += 0.5  # half a second: 1500 bytes more
    assert [bucket.take(1000) for _ in range(2)] == [True, False]
    assert bucket.take(5000) is False  # more than a second's worth waits for a full bucket
    now[0] += 1.0
    assert bucket.take(5000) is True


def test_a_parked_message_sent_again_is_still_applied_when_its_gap_fills(tmp_path: Path) -> None:
    inbox, cache = entry_inbox(tmp_path)
    one, two, three = stream_of(tmp_path, 3)
    assert [r.outcome for r in inbox.receive([one, three])] == [Outcome.APPLIED, Outcome.PARKED]
    # The sender, unsure, sends the parked one again in the same batch as the gap's filler.
    outcomes = [r.outcome for r in inbox.receive([three, two])]
    assert outcomes == [Outcome.DUPLICATE, Outcome.APPLIED]
    assert cache.count() == 3
    with inbox.engine.connect() as conn:
        seqs = (
            conn.execute(select(inbox_applied.c.seq).order_by(inbox_applied.c.seq)).scalars().all()
        )
    assert seqs == [1, 2, 3]
