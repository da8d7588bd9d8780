"""The witness protocol between two posts and a centre, each on its own SQLite file with its
real outbox, inbox and log, the broker played by hand (`witnessing.Hub`): an honest log is
cosigned by both witnesses and gossiped to the centre; a log that rewrites an entry, drops its
tail or shows two witnesses two histories is caught at the next checkpoint, with an alert, the
message in quarantine and a signed alert to the centre; a witness offline loses nothing."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import delete

from edge.store.schema import tlog_witness_sent
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from sync.envelope import seal_new
from sync.inbox import Incoming, Outcome
from sync.messages import CheckpointMessage, PayloadError, parse_payload
from sync.outbox import Signer
from sync.tlog.checkpoint import open_checkpoint
from sync.tlog.cosignature import Ed25519CosignatureVerifier, cosignatures
from sync.tlog.note import Ed25519NoteVerifier
from sync.tlog.store import log_origin
from sync.topics import topic_for
from tests.sync.tlog.witnessing import (
    CENTRE,
    ENTRY,
    EXIT,
    Hub,
    Node,
    copy_database,
    drop_tail,
    make_centre,
    make_post,
    rewrite_entry,
)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("fleet"), [EXIT, ENTRY, CENTRE])


@pytest.fixture
def hub(fleet: Fleet, tmp_path: Path) -> Hub:
    """The exit post's log witnessed by the entry post and the centre, and the other way
    round; each post tells the centre what it cosigned."""
    return Hub().add(
        make_post(fleet, EXIT, tmp_path / "exit", [ENTRY, CENTRE], [CENTRE]),
        make_post(fleet, ENTRY, tmp_path / "entry", [EXIT, CENTRE], [CENTRE]),
        make_centre(fleet, CENTRE, tmp_path / "centre", [], []),
    )


def honest_round(hub: Hub, count: int = 5) -> int:
    """Messages from the exit post, a sync, a checkpoint shown to its witnesses, a sync: the
    checkpoint's size."""
    exit_post = hub.nodes[EXIT]
    exit_post.traffic(ENTRY, count)
    hub.sync()
    made = exit_post.publish()
    assert made is not None
    hub.sync()
    return made.size


def node_key(fleet: Fleet, node: str) -> Ed25519NoteVerifier:
    hub_node = fleet.nodes[node]
    from sync.outbox import Signer

    return Ed25519NoteVerifier(
        log_origin(node), Signer.load(hub_node, node).private_key.public_key()
    )


def witness_key(fleet: Fleet, node: str) -> Ed25519CosignatureVerifier:
    key = Signer.load(fleet.nodes[node], node).private_key.public_key()
    return Ed25519CosignatureVerifier(log_origin(node), key)


def no_alerts(*nodes: Node) -> None:
    for node in nodes:
        assert node.alerts() == [], node.node_id
        assert node.quarantined() == [], node.node_id


def test_an_honest_log_is_cosigned_by_both_witnesses_and_gossiped_to_the_centre(
    hub: Hub, fleet: Fleet
) -> None:
    exit_post, entry, centre = hub.nodes[EXIT], hub.nodes[ENTRY], hub.nodes[CENTRE]
    first = honest_round(hub)
    assert exit_post.cosigners(first) == sorted([CENTRE, ENTRY])
    # The centre holds its own view and the entry post's cosigned copy.
    assert centre.witnessed(EXIT) == [(first, ENTRY), (first, EXIT)]
    second = honest_round(hub, 3)
    assert second > first
    assert exit_post.cosigners(second) == sorted([CENTRE, ENTRY])
    assert entry.witnessed(EXIT) == [(first, EXIT), (second, EXIT)]
    # What the exit post publishes verifies with its key and both witnesses' keys.
    note = exit_post.log.cosigned_note(second)
    witnesses = [witness_key(fleet, ENTRY), witness_key(fleet, CENTRE)]
    signed = open_checkpoint(note, node_key(fleet, EXIT), witnesses)
    assert sorted(c.witness for c in cosignatures(signed.note.verified, witnesses)) == [
        log_origin(ENTRY), log_origin(CENTRE),
    ]  # fmt: skip
    no_alerts(exit_post, entry, centre)


def test_a_checkpoint_of_an_unchanged_log_is_not_shown_twice(hub: Hub) -> None:
    size = honest_round(hub)
    before = hub.nodes[EXIT].sent_types(ENTRY).count("checkpoint")
    assert hub.nodes[EXIT].publish() is not None
    hub.sync()
    assert hub.nodes[EXIT].sent_types(ENTRY).count("checkpoint") == before
    assert hub.nodes[EXIT].cosigners(size) == sorted([CENTRE, ENTRY])


def test_a_witness_that_saw_more_refuses_and_the_next_checkpoint_proves_from_there(
    hub: Hub,
) -> None:
    exit_post, entry = hub.nodes[EXIT], hub.nodes[ENTRY]
    first = honest_round(hub)
    # The exit post forgets what it showed the entry post (its bookkeeping restored).
    with exit_post.engine.begin() as conn:
        conn.execute(delete(tlog_witness_sent).where(tlog_witness_sent.c.witness == ENTRY))
    second = honest_round(hub, 2)
    assert exit_post.cosigners(second) == [CENTRE]  # the entry post refused: not from 0
    assert [r.size for r in exit_post.rows(tlog_witness_sent, witness=ENTRY)] == [first]
    exit_post.publish()  # the same checkpoint, now with the proof from where it stands
    hub.sync()
    assert exit_post.cosigners(second) == sorted([CENTRE, ENTRY])
    assert entry.witnessed(EXIT) == [(first, EXIT), (second, EXIT)]
    no_alerts(exit_post, entry, hub.nodes[CENTRE])


def alert_of(node: Node, reported_by: str) -> dict[str, object]:
    rows = node.alerts(reported_by)
    assert len(rows) == 1, (node.node_id, reported_by, [(r.kind, r.detail) for r in rows])
    row = rows[0]
    return {"kind": row.kind, "log_node": row.log_node, **json.loads(row.evidence)}


def assert_caught(hub: Hub, witness: str, kind: str) -> dict[str, object]:
    """`witness` caught the exit post's log: its alert with two signed checkpoints, the
    message in quarantine, a signed alert queued to the centre; the centre keeps that alert,
    its notes verified with the exit post's key."""
    node, centre = hub.nodes[witness], hub.nodes[CENTRE]
    found = alert_of(node, witness)
    assert (found["kind"], found["log_node"]) == (kind, EXIT)
    checkpoints = found["checkpoints"]
    assert isinstance(checkpoints, list)
    assert len(checkpoints) == 2
    assert checkpoints[0] != checkpoints[1]
    assert f"tlog_{kind}" in node.quarantined()
    if witness != CENTRE:
        assert "tlog_alert" in node.sent_types(CENTRE)
        told = alert_of(centre, witness)
        assert (told["kind"], told["checkpoints"], told["verified"]) == (
            kind, checkpoints, [True, True],
        )  # fmt: skip
    return found


def test_a_rewritten_entry_is_caught_as_inconsistent_by_both_witnesses(hub: Hub) -> None:
    exit_post = hub.nodes[EXIT]
    first = honest_round(hub)
    rewrite_entry(exit_post.engine, 2)  # and its tiles rebuilt: its own proofs agree with it
    second = honest_round(hub, 3)
    assert second > first
    found = assert_caught(hub, ENTRY, "inconsistent")
    assert (found["held_size"], found["size"]) == (first, second)
    assert found["proof"]  # the proof that fails, as sent
    assert_caught(hub, CENTRE, "inconsistent")
    assert exit_post.cosigners(second) == []


def test_a_dropped_tail_is_caught_as_truncated(hub: Hub) -> None:
    exit_post = hub.nodes[EXIT]
    first = honest_round(hub, 6)
    drop_tail(exit_post.engine, first - 3)
    second = honest_round(hub, 1)
    assert second < first
    found = assert_caught(hub, ENTRY, "truncated")
    assert (found["held_size"], found["size"]) == (first, second)
    assert_caught(hub, CENTRE, "truncated")


def test_two_histories_shown_to_two_witnesses_are_a_fork_at_the_centre(
    hub: Hub, fleet: Fleet, tmp_path: Path
) -> None:
    exit_post, entry, centre = hub.nodes[EXIT], hub.nodes[ENTRY], hub.nodes[CENTRE]
    first = honest_round(hub)
    # A second copy of the exit post's database goes on with another history, shown to the
    # centre only; the original is shown to the entry post only.
    twin = make_post(fleet, EXIT, copy_database(exit_post.data_dir, tmp_path / "twin"),
                     [CENTRE], [CENTRE])  # fmt: skip
    hub.senders.append(twin)
    exit_post.witnesses = [ENTRY]
    exit_post.traffic(ENTRY, 3)
    twin.traffic(CENTRE, 3)
    hub.sync()
    one, other = exit_post.publish(), twin.publish()
    assert one is not None
    assert other is not None
    assert one.size == other.size > first
    assert one.root_hash != other.root_hash
    hub.sync()
    assert entry.alerts() == []  # the entry post alone cannot tell
    found = alert_of(centre, CENTRE)
    assert (found["kind"], found["log_node"], found["size"]) == ("fork", EXIT, one.size)
    checkpoints = found["checkpoints"]
    assert isinstance(checkpoints, list)
    key = node_key(fleet, EXIT)
    roots = {open_checkpoint(n.encode(), key).checkpoint.root_hash for n in checkpoints}
    assert roots == {one.root_hash, other.root_hash}  # both signed by the exit post's key
    assert "tlog_fork" in centre.quarantined()
    # The exit post gets the centre's cosignature of a tree of its size that its key signed
    # and it never had: it reports its own fork too.
    assert [(a.kind, a.log_node) for a in exit_post.alerts(EXIT)] == [("fork", EXIT)]
    assert [a.kind for a in centre.alerts(EXIT)] == ["fork"]


def test_an_offline_witness_delays_cosignatures_but_loses_nothing(hub: Hub) -> None:
    exit_post, entry = hub.nodes[EXIT], hub.nodes[ENTRY]
    hub.offline.add(ENTRY)
    first = honest_round(hub)
    second = honest_round(hub, 4)
    assert exit_post.cosigners(first) == exit_post.cosigners(second) == [CENTRE]
    assert entry.witnessed(EXIT) == []
    hub.offline.clear()
    hub.sync()
    assert exit_post.cosigners(first) == exit_post.cosigners(second) == sorted([CENTRE, ENTRY])
    assert entry.witnessed(EXIT) == [(first, EXIT), (second, EXIT)]
    no_alerts(exit_post, entry, hub.nodes[CENTRE])


def test_a_checkpoint_not_signed_by_its_origin_is_quarantined_without_an_alert(
    hub: Hub,
) -> None:
    honest_round(hub)
    entry, centre = hub.nodes[ENTRY], hub.nodes[CENTRE]
    # The entry post signs a checkpoint note of its own log and sends it as the exit post's:
    # the envelope is the entry post's, so the note is checked against the entry post's log.
    note = entry.log.checkpoint().note.decode().replace(log_origin(ENTRY), log_origin(EXIT), 1)
    entry.outbox.send(CheckpointMessage(note=note, old_size=0), CENTRE)
    hub.sync()
    assert centre.quarantined() == ["not_applicable"]
    assert centre.alerts() == []


@pytest.mark.parametrize(
    ("message_type", "payload", "reason"),
    [
        ("checkpoint", {"note": "", "old_size": 0}, "note"),
        ("checkpoint", {"note": "x", "old_size": -1}, "old_size"),
        ("checkpoint", {"note": "x", "old_size": 0, "proof": ["AB" * 32]}, "proof[0]"),
        ("checkpoint", {"note": "x" * 65_537, "old_size": 0}, "note"),
        ("cosignature", {"log_node": EXIT, "size": 3}, "record"),
        ("cosignature", {"log_node": EXIT, "size": 3, "note": "x", "known_size": 2}, "record"),
        ("tlog_alert", {"log_node": EXIT, "kind": "lost", "detail": ""}, "kind"),
        ("tlog_alert", {"log_node": EXIT, "kind": "fork", "detail": "",
                        "checkpoints": ["x"] * 5}, "checkpoints"),
    ],
)  # fmt: skip
def test_malformed_witness_messages_are_refused_with_the_field(
    message_type: str, payload: dict[str, object], reason: str
) -> None:
    with pytest.raises(PayloadError) as caught:
        parse_payload(message_type, payload)
    assert any(r.startswith(reason) for r in caught.value.reasons), caught.value.reasons


def test_a_malformed_checkpoint_on_the_wire_is_quarantined(hub: Hub, fleet: Fleet) -> None:
    signer = Signer.load(fleet.nodes[EXIT], EXIT)
    _, data = seal_new(
        CheckpointMessage.model_construct(note="x", old_size=-5, proof=()),
        signer.private_key, EXIT, ENTRY, seq=1, stream=f"{EXIT}/{ENTRY}/checkpoint",
        created=utcnow(), certificate_pem=signer.certificate_pem,
    )  # fmt: skip
    topic = topic_for(EXIT, ENTRY, "checkpoint")
    results = hub.nodes[ENTRY].inbox.receive([Incoming("hub", topic, data)])
    assert [r.outcome for r in results] == [Outcome.QUARANTINED]
    assert hub.nodes[ENTRY].quarantined() == ["malformed"]
