"""What the broker refuses is not parked for ever: it goes again after a backoff (soon for a
transient code, slowly for one that waits on the broker's configuration), shows in `sync status`
with its reason until the broker takes it, and, like everything its receiver has not confirmed,
travels in a file bundle."""

from __future__ import annotations

import datetime as dt
import json
import os
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from edge.store import open_database
from edge.store.schema import outbox
from edge.timeutil import set_clock, utcnow
from provisioning.identity.fleet import make_fleet
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess, render_acl
from sync.broker_process import MosquittoBroker
from sync.bundle import export_bundle
from sync.outbox import Outbox, RefusalBackoff, Route, Signer
from tests.chaos.harness import node_config
from tests.sync.crossing import ENTRY, EXIT, make_post, wait_until
from tests.sync.test_bundles_cli import carec_edge, queue_confirmations
from tests.sync.test_sync_link import exit_confirmation


@pytest.fixture
def clock() -> Iterator[list[dt.datetime]]:
    """The box's clock, moved by the test: [now]."""
    now = [utcnow()]
    set_clock(lambda: now[0])
    yield now
    set_clock(None)


def exit_outbox(engine: Engine, fleet_dir: Path) -> Outbox:
    fleet = make_fleet(fleet_dir, [EXIT, ENTRY])
    return Outbox(engine, Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")])


def state_of(engine: Engine, message_id: str) -> str:
    with engine.connect() as conn:
        return str(conn.execute(select(outbox.c.state).where(outbox.c.id == message_id)).scalar())


def test_a_transient_refusal_goes_again_after_its_backoff(
    engine: Engine, tmp_path: Path, clock: list[dt.datetime]
) -> None:
    box = exit_outbox(engine, tmp_path / "fleet")
    sent = box.send(exit_confirmation("R1"), ENTRY)
    assert [m.id for m in box.take("hub", 10)] == [sent]

    box.refused([sent], "hub", 0x97, "Quota exceeded")

    assert state_of(engine, sent) == "refused"
    (stuck,) = box.stuck()
    assert (stuck.id, stuck.reason, stuck.refusals) == (sent, "0x97 Quota exceeded", 1)
    assert stuck.retry_at == clock[0] + dt.timedelta(seconds=2)
    assert box.release_refused("hub") == 0  # not before its backoff
    assert box.take("hub", 10) == []

    clock[0] += dt.timedelta(seconds=2)
    assert box.release_refused("hub") == 1
    assert [m.id for m in box.take("hub", 10)] == [sent]
    assert box.stuck()[0].state == "inflight"  # shown until the broker takes it
    box.acknowledged([sent])
    assert box.stuck() == []


def test_each_refusal_doubles_the_wait_up_to_its_cap_and_a_lasting_one_waits_longer() -> None:
    backoff = RefusalBackoff()
    transient = [backoff.delay(0x80, n).total_seconds() for n in range(1, 11)]
    assert transient == [2, 4, 8, 16, 32, 64, 128, 256, 300, 300]
    lasting = [backoff.delay(0x87, n).total_seconds() for n in (1, 2, 7, 50)]
    assert lasting == [60, 120, 3600, 3600]


def test_a_bundle_carries_every_message_the_receiver_has_not_confirmed(
    engine: Engine, tmp_path: Path
) -> None:
    box = exit_outbox(engine, tmp_path / "fleet")
    ids = box.send_many([(exit_confirmation(f"R{i}"), ENTRY, None) for i in range(4)])
    box.take("hub", 2)
    box.acknowledged(ids[:1])  # the broker has it; the receiver has not confirmed it
    box.refused(ids[1:2], "hub", 0x87, "Not authorized")
    # ids[2:] are still pending

    exported = export_bundle(box, "hub", tmp_path / "out.bundle")

    assert exported.messages == 4
    lines = (tmp_path / "out.bundle").read_text().splitlines()
    assert json.loads(lines[0])["messages"] == 4
    with engine.begin() as conn:
        box.delivered(conn, ids[:1])  # now it has
    assert export_bundle(box, "hub", tmp_path / "again.bundle").messages == 3


def test_sync_status_shows_what_the_broker_refused_with_its_reason(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    config = node_config(fleet, EXIT, 1, tmp_path / "exit.toml")
    queue_confirmations(fleet, tmp_path / "exit", 2)
    box = Outbox(
        open_database(tmp_path / "exit"), Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")]
    )
    taken = [m.id for m in box.take("hub", 1)]
    box.refused(taken, "hub", 0x87, "Not authorized")

    status = carec_edge(config, tmp_path / "exit", "sync", "status", "--json")
    text = carec_edge(config, tmp_path / "exit", "sync", "status")

    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    queues = {q["class"]: q for q in report["queues"]}
    assert (queues["evidence"]["refused"], queues["evidence"]["depth"]) == (1, 1)
    (stuck,) = report["stuck"]
    assert (stuck["id"], stuck["reason"], stuck["refusals"]) == (taken[0], "0x87 Not authorized", 1)
    assert f"{taken[0]} hub exit_confirmation to {ENTRY}: 0x87 Not authorized" in text.stdout


def test_a_message_the_broker_refuses_goes_again_and_arrives_once_the_broker_allows_it(
    tmp_path: Path,
) -> None:
    """Real mosquitto: the exit post may not publish (its ACL entry lacks its topics), so the
    broker answers PUBACK 0x87; once the ACL is fixed and reloaded (SIGHUP), the refused
    message goes again by itself and is applied at the entry post."""
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    muted = TopicAccess.for_node(EXIT).model_copy(update={"write": ()})
    config = BrokerConfig(
        tls=TlsListener(
            port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert, keyfile=fleet.broker_key
        ),
        access=(muted, TopicAccess.for_node(ENTRY)),
    )
    with MosquittoBroker(config, tmp_path / "broker").start() as broker:
        exit_post = make_post(fleet, EXIT, tmp_path / "exit", broker.port)
        fast = dt.timedelta(milliseconds=200)
        exit_post.outbox.refusal_backoff = RefusalBackoff(fast, fast, fast, fast)
        entry_post = make_post(fleet, ENTRY, tmp_path / "entry", broker.port).start()
        exit_post.start()
        try:
            (sent,) = exit_post.outbox.send_many([(exit_confirmation("REFUSED1"), ENTRY, None)])
            wait_until(
                lambda: any(m.reason == "0x87 Not authorized" for m in exit_post.outbox.stuck()),
                what="the broker's refusal, with its reason",
            )
            wait_until(lambda: exit_post.outbox.stuck()[0].refusals >= 2, what="a second attempt")
            assert entry_post.applied() == 0

            broker.files.acl.write_text(
                render_acl((TopicAccess.for_node(EXIT), TopicAccess.for_node(ENTRY)))
            )
            assert broker.pid is not None
            os.kill(broker.pid, signal.SIGHUP)  # mosquitto reloads its ACL file

            wait_until(lambda: entry_post.applied() == 1, what="the message at the entry post")
            wait_until(
                lambda: state_of(exit_post.engine, sent) == "delivered",
                what="the entry post's ack",
            )
        finally:
            exit_post.stop()
            entry_post.stop()
    assert exit_post.outbox.stuck() == []
