"""The witness protocol through the real sync: two posts and a centre, each with its own SQLite
store, outbox, inbox, log and PeerLink, on a real mosquitto with mutual TLS and the ACL. The
exit post's log is witnessed by the entry post and the centre; a log that rewrites an entry,
drops its tail or shows the two witnesses two histories is caught at the first checkpoint
after it, raised as alerts and as a signed `tlog_alert` at the centre; a witness offline
delays its cosignatures and loses none."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import pytest

from provisioning.identity.fleet import Fleet, make_fleet
from sync.broker_process import MosquittoBroker
from sync.transport import PeerLink, PeerSettings
from tests.sync.crossing import start_broker, wait_until
from tests.sync.tlog.witnessing import (
    CENTRE,
    ENTRY,
    EXIT,
    PEER,
    Node,
    copy_database,
    drop_tail,
    make_centre,
    make_post,
    rewrite_entry,
)


@dataclass
class Linked:
    """A node on the broker: its PeerLink, started and stopped as a post's is."""

    node: Node
    settings: PeerSettings
    link: PeerLink | None = None

    def start(self) -> Linked:
        self.link = PeerLink(self.settings, self.node.node_id, self.node.outbox,
                             self.node.inbox.receive)  # fmt: skip
        self.link.start()
        ready = self.link.subscribed if self.settings.receive else self.link.connected
        if not ready.wait(15):
            raise AssertionError(f"{self.node.node_id} did not connect within 15 s")
        return self

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None

    def publish(self) -> int:
        made = self.node.publish()
        assert made is not None
        if self.link is not None:
            self.link.notify()
        return made.size


def settings(fleet: Fleet, node: str, port: int) -> PeerSettings:
    identity = fleet.nodes[node]
    return PeerSettings(
        name=PEER, host="127.0.0.1", port=port, ca_file=fleet.ca_bundle,
        cert_file=identity / "node.crt", key_file=identity / "node.key",
    )  # fmt: skip


@dataclass
class Crossing:
    fleet: Fleet
    broker: MosquittoBroker
    exit: Linked
    entry: Linked
    centre: Linked
    tmp: Path

    def cosigned(self, size: int, by: list[str]) -> None:
        wait_until(lambda: self.exit.node.cosigners(size) == sorted(by),
                   what=f"size {size} cosigned by {by}")  # fmt: skip

    def honest_round(self, count: int = 5) -> int:
        self.exit.node.traffic(ENTRY, count)
        size = self.exit.publish()
        self.cosigned(size, [CENTRE, ENTRY])
        return size

    def caught(self, kind: str, by: list[str]) -> None:
        """Each of `by` caught the exit post's log (its own alert and the message in
        quarantine); the centre holds each one's alert, told by a signed `tlog_alert`."""
        centre = self.centre.node
        for witness in by:
            node = (self.entry if witness == ENTRY else self.centre).node
            wait_until(alerted(node, witness, kind), what=f"{kind} caught by {witness}")
            assert f"tlog_{kind}" in node.quarantined()
            wait_until(alerted(centre, witness, kind), what=f"{witness}'s alert at the centre")
            if witness != CENTRE:  # told by a signed alert message
                assert all(a.message_id for a in centre.alerts(witness))


def alerted(node: Node, reported_by: str, kind: str) -> Callable[[], bool]:
    def found() -> bool:
        return [(a.kind, a.log_node) for a in node.alerts(reported_by)] == [(kind, EXIT)]

    return found


@pytest.fixture
def crossing(tmp_path: Path) -> Iterator[Crossing]:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY, CENTRE])
    with start_broker(fleet, tmp_path / "broker", (EXIT, ENTRY, CENTRE)) as broker:
        port = broker.port
        nodes = (
            make_post(fleet, EXIT, tmp_path / "exit", [ENTRY, CENTRE], [CENTRE], broker_port=port),
            make_post(fleet, ENTRY, tmp_path / "entry", [EXIT, CENTRE], [CENTRE],
                      broker_port=port),
            make_centre(fleet, CENTRE, tmp_path / "centre", [], []),
        )  # fmt: skip
        linked = [Linked(n, settings(fleet, n.node_id, port)).start() for n in nodes]
        try:
            yield Crossing(fleet, broker, linked[0], linked[1], linked[2], tmp_path)
        finally:
            for one in linked:
                one.stop()


def test_an_entry_rewritten_is_caught_by_both_witnesses_at_the_next_checkpoint(
    crossing: Crossing,
) -> None:
    first = crossing.honest_round()
    rewrite_entry(crossing.exit.node.engine, 3)
    crossing.exit.node.traffic(ENTRY, 2)
    second = crossing.exit.publish()
    crossing.caught("inconsistent", [ENTRY, CENTRE])
    assert second > first
    assert crossing.exit.node.cosigners(second) == []


def test_a_dropped_tail_is_caught_as_truncated_at_the_next_checkpoint(crossing: Crossing) -> None:
    first = crossing.honest_round(6)
    drop_tail(crossing.exit.node.engine, first - 3)
    crossing.exit.node.traffic(ENTRY, 1)
    second = crossing.exit.publish()
    assert second < first
    crossing.caught("truncated", [ENTRY, CENTRE])


def test_two_histories_shown_to_two_witnesses_are_a_fork_at_the_centre(
    crossing: Crossing,
) -> None:
    first = crossing.honest_round()
    exit_post = crossing.exit.node
    # A copy of the exit post's database, with the same identity, goes on with another
    # history shown to the centre only (a link of its own that sends and takes nothing).
    twin = make_post(crossing.fleet, EXIT, copy_database(exit_post.data_dir, crossing.tmp / "twin"),
                     [CENTRE], [CENTRE], broker_port=crossing.broker.port)  # fmt: skip
    twin_settings = replace(
        settings(crossing.fleet, EXIT, crossing.broker.port), client_id=f"{EXIT}-TWIN",
        receive=False,
    )  # fmt: skip
    twin_link = Linked(twin, twin_settings).start()
    try:
        exit_post.witnesses = [ENTRY]
        exit_post.traffic(ENTRY, 3)
        twin.traffic(CENTRE, 3)
        size = crossing.exit.publish()
        assert twin_link.publish() == size > first
        centre = crossing.centre.node
        wait_until(lambda: [(a.kind, a.log_node) for a in centre.alerts(CENTRE)]
                   == [("fork", EXIT)], what="the fork caught at the centre")  # fmt: skip
        assert "tlog_fork" in centre.quarantined()
        assert crossing.entry.node.alerts(ENTRY) == []  # the entry post alone cannot tell
    finally:
        twin_link.stop()


def test_an_offline_witness_delays_its_cosignatures_and_loses_none(crossing: Crossing) -> None:
    crossing.entry.stop()
    exit_post = crossing.exit.node
    sizes = []
    for count in (4, 3):
        exit_post.traffic(ENTRY, count)
        sizes.append(crossing.exit.publish())
        crossing.cosigned(sizes[-1], [CENTRE])
    crossing.entry.start()
    for size in sizes:
        crossing.cosigned(size, [CENTRE, ENTRY])
    assert crossing.entry.node.witnessed(EXIT) == [(sizes[0], EXIT), (sizes[1], EXIT)]
    for node in (exit_post, crossing.entry.node, crossing.centre.node):
        assert node.alerts() == []
        assert node.quarantined() == []
