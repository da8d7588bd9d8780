"""Spot checks of a log's entries by its witnesses (sync.tlog.audit): the entry post, a witness
of the exit post's log, asks with each cosignature for proofs of messages the two exchanged,
and checks them in the exit post's next checkpoint. A log that never logged a message it sent,
or logged it otherwise than it sent it, is caught as `bad_proof` although its tree only ever
grew; an honest log, and messages that cross, raise nothing."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from edge.store.schema import tlog_audits, tlog_entries
from provisioning.identity.fleet import Fleet, make_fleet
from sync.messages import TelemetryMessage
from sync.outbox import Outbox
from tests.sync.tlog.witnessing import CENTRE, ENTRY, EXIT, Hub, make_centre, make_post


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("fleet"), [EXIT, ENTRY, CENTRE])


@pytest.fixture
def hub(fleet: Fleet, tmp_path: Path) -> Hub:
    """The exit post's log witnessed by the entry post (which asks) and the centre."""
    return Hub().add(
        make_post(fleet, EXIT, tmp_path / "exit", [ENTRY], [CENTRE]),
        make_post(fleet, ENTRY, tmp_path / "entry", [], [CENTRE]),
        make_centre(fleet, CENTRE, tmp_path / "centre", [], []),
    )


def asked(hub: Hub) -> list[tuple[str, int]]:
    rows = hub.nodes[ENTRY].rows(tlog_audits, peer=EXIT, role="asked")
    return sorted((r.message_id, int(r.asked_at_size)) for r in rows)


def publish(hub: Hub) -> int:
    made = hub.nodes[EXIT].publish()
    assert made is not None
    hub.sync()
    return made.size


def test_an_honest_log_answers_every_question_and_is_cosigned(hub: Hub) -> None:
    exit_post, entry = hub.nodes[EXIT], hub.nodes[ENTRY]
    exit_post.traffic(ENTRY, 30)
    hub.sync()
    first = publish(hub)
    questions = asked(hub)
    assert len(questions) == 16  # of 30 exchanged, at random
    assert {size for _, size in questions} == {first}
    owed = exit_post.rows(tlog_audits, peer=ENTRY, role="to_prove")
    assert sorted(r.message_id for r in owed) == [m for m, _ in questions]

    exit_post.traffic(ENTRY, 3)
    hub.sync()
    second = publish(hub)
    assert entry.alerts() == []
    assert ENTRY in exit_post.cosigners(second)
    assert {size for _, size in asked(hub)} == {second}  # answered, and asked anew
    assert exit_post.rows(tlog_audits, peer=ENTRY, role="to_prove")  # the new questions


def test_a_message_sent_without_logging_it_is_caught_as_a_bad_proof(hub: Hub, fleet: Fleet) -> None:
    exit_post, entry = hub.nodes[EXIT], hub.nodes[ENTRY]
    exit_post.traffic(CENTRE, 5)  # logged: the log has a tree to show
    # The same node, signing to the entry post past its log.
    unlogged = Outbox(exit_post.engine, exit_post.outbox.signer, exit_post.outbox.routes,
                      transparency=False)  # fmt: skip
    unlogged.send_many([(TelemetryMessage(metrics={"n": n}), ENTRY, None) for n in range(4)])
    hub.sync()
    publish(hub)  # cosigned (nothing was asked yet), and the four asked about
    assert len(asked(hub)) == 4
    exit_post.traffic(CENTRE, 2)
    hub.sync()
    size = publish(hub)
    alerts = entry.alerts(reported_by=ENTRY)
    assert [a.kind for a in alerts] == ["bad_proof"]
    assert "4 of the messages" in alerts[0].detail
    assert "not in the log" in alerts[0].detail
    assert "tlog_bad_proof" in entry.quarantined()
    assert ENTRY not in exit_post.cosigners(size)
    assert "tlog_alert" in entry.sent_types(CENTRE)


def test_a_message_logged_otherwise_than_it_was_sent_is_caught(hub: Hub) -> None:
    exit_post, entry = hub.nodes[EXIT], hub.nodes[ENTRY]
    exit_post.traffic(ENTRY, 6)
    # Before they are integrated, the node makes its entries say other bytes were sent.
    with exit_post.engine.begin() as conn:
        conn.execute(
            update(tlog_entries)
            .where(tlog_entries.c.leaf_index.is_(None))
            .values(envelope_sha256=b"\x07" * 32)
        )
    hub.sync()
    publish(hub)
    exit_post.traffic(CENTRE, 1)
    hub.sync()
    publish(hub)
    alerts = entry.alerts(reported_by=ENTRY)
    assert [a.kind for a in alerts] == ["bad_proof"]
    assert "logged otherwise than exchanged" in alerts[0].detail


def test_questions_and_checkpoints_that_cross_raise_nothing(hub: Hub) -> None:
    exit_post, entry = hub.nodes[EXIT], hub.nodes[ENTRY]
    exit_post.traffic(ENTRY, 5)
    hub.sync()
    hub.offline.add(EXIT)  # the entry post's cosignatures (and questions) wait for it
    first = publish(hub)
    exit_post.traffic(ENTRY, 5)
    second = publish(hub)  # made before the questions came: answers none of them
    assert {size for _, size in asked(hub)} == {second}
    hub.offline.clear()
    hub.sync()
    exit_post.traffic(ENTRY, 1)
    hub.sync()
    third = publish(hub)
    assert entry.alerts() == []
    assert [ENTRY] == exit_post.cosigners(first) == exit_post.cosigners(third)
    assert {size for _, size in asked(hub)} == {third}
