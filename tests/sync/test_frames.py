"""Frames: a backlog goes out several envelopes to an MQTT message, each envelope still signed
on its own, the frame signed once over all of them. A receiver applies every envelope the
verified frame vouches for, verifies alone what it does not, and quarantines only what fails."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from sqlalchemy import Engine, select
from sqlalchemy.exc import OperationalError

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import inbox_applied, quarantine
from sync import frame
from sync.apply import appliers
from sync.envelope import Envelope, seal
from sync.frame import group, pack, unpack
from sync.inbox import Inbox, Incoming, Outcome
from sync.inbox_batch import Batch
from sync.messages import ArrivalMessage, DecisionMessage
from sync.outbox import Outbox, Route, Signer
from tests.chaos.harness import Tally, tally
from tests.sync.crossing import ENTRY, EXIT, make_fleet, make_post, start_broker, wait_until
from tests.sync.test_sync_link import exit_confirmation
from tests.unit.test_asyncapi import decoded, schema_validator

KEYS = {EXIT: Ed25519PrivateKey.generate(), ENTRY: Ed25519PrivateKey.generate()}
SIGNER = Signer(EXIT, KEYS[EXIT])


class Lookups:
    """A trust store for tests that counts how often it is asked (one ask, one signature)."""

    def __init__(self) -> None:
        self.asked = 0

    def __call__(self, node: str, _cert: bytes | None) -> Ed25519PublicKey:
        self.asked += 1
        return KEYS[node].public_key()


def arrival(n: int) -> ArrivalMessage:
    return ArrivalMessage.model_validate(
        {"node": EXIT, "lane": "1", "arrival_id": n, "opened_at": "2026-11-28T08:30:00Z"}
    )


def arrivals(count: int, first_seq: int = 1) -> list[bytes]:
    return [
        seal(
            Envelope.new(arrival(n + 1), origin=EXIT, destination=ENTRY, seq=first_seq + n),
            KEYS[EXIT],
            EXIT,
        )
        for n in range(count)
    ]


TOPIC = f"carec/v1/KZ/{EXIT}/to/{ENTRY}/operational/arrival"


def entry_inbox(engine: Engine, lookups: Lookups) -> Inbox:
    return Inbox(engine, ENTRY, lookups, appliers(ManifestCache(engine)))


def applied_ids(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(
            conn.execute(select(inbox_applied.c.id).order_by(inbox_applied.c.seq)).scalars()
        )


def reasons(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return list(conn.execute(select(quarantine.c.reason)).scalars())


def forge(envelope: bytes) -> bytes:
    """The same envelope with its content changed after signing (lane 1 becomes lane 9)."""
    header, payload, signature = envelope.split(b".")
    content = base64.urlsafe_b64decode(payload + b"==").replace(b'"lane":"1"', b'"lane":"9"')
    return b".".join([header, base64.urlsafe_b64encode(content).rstrip(b"="), signature])


def test_a_frame_is_applied_whole_on_one_signature(engine: Engine) -> None:
    lookups = Lookups()
    envelopes = arrivals(5)
    results = entry_inbox(engine, lookups).receive(
        [Incoming("hub", TOPIC, pack(envelopes, SIGNER))]
    )
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 5
    assert lookups.asked == 1  # the frame's signature; no envelope was verified again
    assert len(applied_ids(engine)) == 5


def test_one_envelope_needs_no_frame() -> None:
    (envelope,) = arrivals(1)
    assert pack([envelope], SIGNER) == envelope


def test_a_frame_with_one_forged_envelope_quarantines_it_and_applies_the_others(
    engine: Engine,
) -> None:
    envelopes = arrivals(4)
    signed = pack(envelopes, SIGNER)
    tampered = signed.replace(envelopes[1], forge(envelopes[1]))  # after the frame was signed
    lookups = Lookups()
    results = entry_inbox(engine, lookups).receive([Incoming("hub", TOPIC, tampered)])
    assert [r.outcome for r in results] == [
        Outcome.APPLIED, Outcome.QUARANTINED, Outcome.PARKED, Outcome.PARKED
    ]  # fmt: skip
    assert results[1].reason == "bad_signature"
    assert reasons(engine) == ["bad_signature"]
    assert lookups.asked == 5  # the frame did not verify: every envelope was verified alone


def test_a_frame_signed_by_another_key_vouches_for_nothing(engine: Engine) -> None:
    envelopes = arrivals(3)
    impostor = pack(envelopes, Signer(EXIT, KEYS[ENTRY]))  # EXIT's name, ENTRY's key
    unpacked = unpack(impostor, Lookups())
    assert unpacked.covered_by is None
    assert unpacked.problem is not None
    # Each envelope is still EXIT's own: verified alone, all applied.
    results = entry_inbox(engine, Lookups()).receive([Incoming("hub", TOPIC, impostor)])
    assert [r.outcome for r in results] == [Outcome.APPLIED] * 3


def test_an_envelope_of_another_origin_in_a_frame_is_verified_on_its_own(engine: Engine) -> None:
    theirs = seal(
        Envelope.new(arrival(9), origin=ENTRY, destination=ENTRY, seq=1), KEYS[EXIT], ENTRY
    )  # claims ENTRY as origin, signed with EXIT's key, framed by EXIT
    envelopes = [*arrivals(2), theirs]
    results = entry_inbox(engine, Lookups()).receive(
        [Incoming("hub", TOPIC, pack(envelopes, SIGNER))]
    )
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.APPLIED, Outcome.QUARANTINED]
    assert results[2].reason == "bad_signature"


@pytest.mark.parametrize(
    ("data", "reason"),
    [(b"a.b.c\n", "malformed"), (b"\n" * 300_000, "oversized")],
    ids=["empty line", "oversized"],
)
def test_a_broken_frame_is_quarantined_whole(engine: Engine, data: bytes, reason: str) -> None:
    results = entry_inbox(engine, Lookups()).receive([Incoming("hub", TOPIC, data)])
    assert [(r.outcome, r.reason) for r in results] == [(Outcome.QUARANTINED, reason)]
    assert applied_ids(engine) == []


def test_a_frame_cut_by_a_crash_before_commit_is_applied_once_when_redelivered(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = open_database(tmp_path)
    inbox = entry_inbox(engine, Lookups())
    message = Incoming("hub", TOPIC, pack(arrivals(6), SIGNER))
    flush = Batch.flush

    def crash_before_commit(self: Batch) -> None:
        flush(self)  # every effect written, in the transaction ...
        raise OperationalError("COMMIT", {}, Exception("disk I/O error"))  # ... never committed

    monkeypatch.setattr(Batch, "flush", crash_before_commit)
    with pytest.raises(OperationalError):
        inbox.receive([message])
    assert applied_ids(open_database(tmp_path)) == []  # nothing of it took effect
    monkeypatch.undo()
    # Not acknowledged, so the broker delivers the frame again: applied once, then duplicates.
    assert {r.outcome for r in inbox.receive([message])} == {Outcome.APPLIED}
    assert {r.outcome for r in inbox.receive([message])} == {Outcome.DUPLICATE}
    assert len(applied_ids(engine)) == 6


def test_frames_group_a_backlog_by_topic_evidence_first_and_bounded(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(frame, "MAX_FRAME_ENVELOPES", 4)
    box = Outbox(engine, SIGNER, [Route("*", "hub")])
    decision = DecisionMessage.model_validate({
        "arrival": {"node": EXIT, "arrival_id": 1}, "decision": "release", "reason": "OK",
        "officer": "officer-7", "decided_at": "2026-11-28T08:40:00Z",
    })  # fmt: skip
    box.send_many([(arrival(n + 1), ENTRY, None) for n in range(6)])
    box.send(decision, ENTRY)
    frames = group(box.take("hub", 100))
    assert [[m.topic.rsplit("/", 1)[1] for m in f] for f in frames] == [
        ["decision"], ["arrival"] * 4, ["arrival"] * 2
    ]  # fmt: skip
    assert [m.seq for f in frames[1:] for m in f] == [1, 2, 3, 4, 5, 6]


def test_a_backlog_crosses_the_broker_in_frames_and_is_applied_once_in_order(
    tmp_path: Path,
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker:
        entry_post = make_post(fleet, ENTRY, tmp_path / "entry", broker.port).start()
        exit_post = make_post(fleet, EXIT, tmp_path / "exit", broker.port)
        # The backlog is there before the link comes up: it leaves in frames.
        sent = exit_post.outbox.send_many(
            [(exit_confirmation(f"F{i}"), ENTRY, None) for i in range(150)]
            + [(arrival(n + 1), ENTRY, None) for n in range(150)]
        )
        exit_post.start()
        try:
            wait_until(lambda: entry_post.applied() >= 300, 60, "the backlog applied")
            wait_until(lambda: exit_post.states() == {"delivered": 300}, 30, "acknowledged")
            assert exit_post.link is not None
            assert entry_post.link is not None
            assert exit_post.link.stats.published == 300
            assert exit_post.link.stats.frames < 300 / 4  # several envelopes to a message
            assert entry_post.link.stats.applied == 300
            assert entry_post.link.stats.duplicates == entry_post.link.stats.quarantined == 0
            assert tally(sent, entry_post.engine) == Tally(300, 300, 0, 0, in_order=True)
        finally:
            exit_post.stop()
            entry_post.stop()


def test_the_documented_frame_is_what_the_code_packs() -> None:
    signed = pack(arrivals(3), Signer(EXIT, KEYS[EXIT]))
    schema_validator("JwsCompact").validate(signed.decode("ascii"))
    header, content, _ = signed.split(b"\n")[0].split(b".")
    schema_validator("FrameHeader").validate(decoded(header))
    schema_validator("FrameContent").validate(decoded(content))
