"""Chaos: kill -9 of the sender during a burst, kill -9 of the receiver (which verifies a batch
while it commits the one before) during a burst, kill -9 and restart of the broker, the link cut
and healed. Each prints {"sent", "applied", "lost", "duplicates"} and fails unless nothing was
lost, nothing applied twice, and every stream was applied in order."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioning.identity.fleet import make_fleet
from tests.chaos.harness import SCALE, Node, burst, make_node, tally
from tests.sync.crossing import ENTRY, EXIT, start_broker, wait_until
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.chaos
BURST = 400 * SCALE
DRAIN_TIMEOUT = 60.0 * SCALE


def under_way(sent: list[str], receiver: Node) -> None:
    """Until a quarter of the last burst is applied: the moment to break something."""
    target = len(sent) - BURST + BURST // 4
    wait_until(lambda: tally(sent, receiver.engine).applied > target, DRAIN_TIMEOUT, "a burst")


def settle(sent: list[str], receiver: Node, sender: Node) -> None:
    wait_until(lambda: tally(sent, receiver.engine).lost == 0, DRAIN_TIMEOUT, "all applied")
    wait_until(lambda: set(sender.states()) <= {"delivered"}, DRAIN_TIMEOUT, "all acknowledged")


@pytest.mark.parametrize("victim", ["sender", "receiver"])
def test_a_post_killed_during_a_burst_loses_and_applies_twice_nothing(
    tmp_path: Path, victim: str
) -> None:
    """kill -9 of the sender or of the receiver, three times, each during a burst. The receiver
    acknowledges a batch to the broker only after its commit, even while it verifies the next:
    what it had not committed comes again, what it had is not applied twice."""
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker:
        sender = make_node(fleet, EXIT, broker.port, tmp_path)
        receiver = make_node(fleet, ENTRY, broker.port, tmp_path)
        killed, other = (sender, receiver) if victim == "sender" else (receiver, sender)
        other.start()
        sent: list[str] = []
        try:
            for _ in range(3):
                killed.start()
                sent += burst(sender, fleet, len(sent), BURST)
                under_way(sent, receiver)
                killed.kill()
            killed.start()
            settle(sent, receiver, sender)
        finally:
            sender.stop()
            receiver.stop()
    result = tally(sent, receiver.engine)
    print(result.to_json(f"{victim} kill -9"))
    assert (result.sent, result.lost, result.duplicates, result.in_order) == (3 * BURST, 0, 0, True)


def test_broker_killed_and_restarted_loses_nothing(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker:
        sender = make_node(fleet, EXIT, broker.port, tmp_path).start()
        receiver = make_node(fleet, ENTRY, broker.port, tmp_path).start()
        sent: list[str] = []
        try:
            for _ in range(2):
                sent += burst(sender, fleet, len(sent), BURST)
                under_way(sent, receiver)
                broker.kill()  # mosquitto forgets what it acknowledged and had not saved
                broker.restart()
            settle(sent, receiver, sender)
        finally:
            sender.stop()
            receiver.stop()
    result = tally(sent, receiver.engine)
    print(result.to_json("broker kill -9"))
    assert (result.sent, result.lost, result.duplicates, result.in_order) == (2 * BURST, 0, 0, True)


def test_link_cut_and_healed_through_a_proxy(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    with start_broker(fleet, tmp_path / "broker") as broker, TcpProxy(broker.port) as proxy:
        sender = make_node(fleet, EXIT, proxy.port, tmp_path).start()
        receiver = make_node(fleet, ENTRY, broker.port, tmp_path).start()
        sent: list[str] = []
        try:
            for _ in range(3):
                sent += burst(sender, fleet, len(sent), BURST)
                under_way(sent, receiver)
                proxy.cut()
                assert sender.process is not None
                sender.process.wait_log("sync.link", "up=False")
                proxy.heal()
                sender.process.wait_log("sync.link", "up=True")
            settle(sent, receiver, sender)
        finally:
            sender.stop()
            receiver.stop()
    result = tally(sent, receiver.engine)
    print(result.to_json("link cut"))
    assert (result.sent, result.lost, result.duplicates, result.in_order) == (3 * BURST, 0, 0, True)
