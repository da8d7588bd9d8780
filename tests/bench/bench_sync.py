"""The sync benchmarks of issue 4, through a real mosquitto with mutual TLS:

- throughput from `send` to applied at the receiver (signed, durable on both sides), against
  the baseline of a raw paho QoS 1 publish loop on the same broker, in the same run;
- a backlog built while the link is down, drained after it heals, with an evidence message
  sent during the drain and timed to its application at the receiver.

Both posts run as real `carec-edge run` processes; messages are queued in the sender's outbox.

    .venv/bin/python -m tests.bench.bench_sync [--messages N] [--backlog N]
"""

from __future__ import annotations

import argparse
import json
import ssl
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import select

from edge.store.schema import inbox_applied
from provisioning.identity.fleet import Fleet, make_fleet
from sync.messages import DecisionMessage
from sync.outbox import Outbox, Route, Signer
from sync.topics import topic_for
from tests.chaos.harness import Node, burst, make_node, payloads, queue
from tests.sync.crossing import ENTRY, EXIT, start_broker, wait_until

TARGETS = {"throughput_ratio": 0.5, "backlog_drain_s": 60.0, "evidence_during_drain_s": 2.0}


def raw_paho_rate(fleet: Fleet, port: int, count: int, size: int, window: int = 256) -> float:
    """Messages per second of a plain QoS 1 publish loop, every PUBACK awaited: with up to
    `window` in flight (pipelined), or with `window=1`, one publish at a time."""
    done = threading.Event()
    acked = 0

    def on_publish(*_: Any) -> None:
        nonlocal acked
        acked += 1
        if acked == count:
            done.set()

    client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2, protocol=mqtt.MQTTv5)
    identity = fleet.nodes[EXIT]
    client.tls_set(ca_certs=str(fleet.ca_bundle), certfile=str(identity / "node.crt"),
                   keyfile=str(identity / "node.key"), cert_reqs=ssl.CERT_REQUIRED)  # fmt: skip
    client.max_inflight_messages_set(window)
    client.max_queued_messages_set(0)
    client.on_publish = on_publish
    client.connect("127.0.0.1", port)
    client.loop_start()
    topic = topic_for(EXIT, "KZ-NOBODY-1", "arrival")  # nobody reads it: the broker's cost only
    payload = b"x" * size
    start = time.perf_counter()
    for _ in range(count):
        info = client.publish(topic, payload, qos=1)
        if window == 1:
            info.wait_for_publish(30)
    done.wait(120)
    elapsed = time.perf_counter() - start
    client.loop_stop()
    client.disconnect()
    return count / elapsed


def applied(node: Node) -> int:
    """How many messages the node applied: inbox_applied only grows, so its last rowid is its
    count, found in O(log n) (a count(*) 20 times a second would load the box it measures)."""
    with node.engine.connect() as conn:
        return int(conn.exec_driver_sql("SELECT max(rowid) FROM inbox_applied").scalar() or 0)


def evidence(node: Node, fleet: Fleet) -> str:
    box = Outbox(node.engine, Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")])
    message = DecisionMessage.model_validate({
        "arrival": {"node": EXIT, "arrival_id": 1}, "decision": "release", "reason": "OK",
        "officer": "officer-1", "decided_at": "2026-11-28T08:40:00Z",
    })  # fmt: skip
    return box.send(message, ENTRY)


def is_applied(node: Node, message_id: str) -> bool:
    with node.engine.connect() as conn:
        return (
            conn.execute(select(inbox_applied.c.id).where(inbox_applied.c.id == message_id)).first()
            is not None
        )


def set_logging(node: Node, enabled: bool) -> None:
    """Write `node`'s config with its transparency log on or off (read at its next start)."""
    text = node.config.read_text(encoding="utf-8").split(_LOG_SWITCH)[0]
    node.config.write_text(
        text + ("" if enabled else f"{_LOG_SWITCH}enabled = false\n"), encoding="utf-8"
    )


_LOG_SWITCH = "\n[sync.transparency]\n"


def throughput(
    sender: Node, receiver: Node, fleet: Fleet, start: int, messages: int, logged: bool
) -> float:
    """Messages a second from `send` to applied at the receiver, as the first run times it."""
    items = payloads(start, messages)
    before = applied(receiver)
    began = time.perf_counter()
    queue(sender, fleet, items, transparency=logged)
    wait_until(lambda: applied(receiver) >= before + messages, 600, "throughput run")
    return messages / (time.perf_counter() - began)


def run(messages: int, backlog: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        fleet = make_fleet(root / "fleet", [EXIT, ENTRY])
        with start_broker(fleet, root / "broker") as broker:
            sender = make_node(fleet, EXIT, broker.port, root, redeliver_after_s=60.0).start()
            receiver = make_node(fleet, ENTRY, broker.port, root, redeliver_after_s=60.0).start()
            try:
                # Throughput: from `send` (signing and storing, 500 to a transaction, as a
                # service's burst would) until the receiver applied the last one. The payloads
                # are the application's, built before the clock starts.
                items = payloads(0, messages)
                start = time.perf_counter()
                ids = queue(sender, fleet, items)
                wait_until(lambda: applied(receiver) >= messages, 600, "throughput run")
                ours = messages / (time.perf_counter() - start)
                size = len(ids[0]) and 1500  # a signed envelope is about 1.5 kB
                raw = raw_paho_rate(fleet, broker.port, messages, size)
                raw_one_at_a_time = raw_paho_rate(fleet, broker.port, min(messages, 2000), size, 1)

                # The transparency log's cost: the same run with it off and on again, alternated
                # (off, on, off), both services restarted with [sync.transparency] enabled.
                rates: dict[bool, list[float]] = {True: [ours], False: []}
                for n, logged in enumerate((False, True, False), start=1):
                    for node in (sender, receiver):
                        node.stop()
                        set_logging(node, logged)
                        node.start()
                    rates[logged].append(
                        throughput(sender, receiver, fleet, n * messages, messages, logged)
                    )
                set_logging(sender, True)
                set_logging(receiver, True)
                sender.stop()
                sender.start()
                receiver.stop()
                receiver.start()

                # Backlog: the sender's link is down while it builds up.
                sender.stop()
                before = applied(receiver)
                # What piles up during an outage: arrivals (operational); the decision sent
                # during the drain must overtake all of them.
                burst(sender, fleet, messages, backlog, evidence=False)
                sender.start()
                drain_start = time.perf_counter()
                wait_until(
                    lambda: applied(receiver) >= before + backlog // 10, 600, "drain under way"
                )
                sent_at = time.perf_counter()
                urgent = evidence(sender, fleet)
                wait_until(lambda: is_applied(receiver, urgent), 600, "evidence during the drain")
                evidence_s = time.perf_counter() - sent_at
                wait_until(
                    lambda: applied(receiver) >= before + backlog + 1, 600, "backlog drained"
                )
                drain_s = time.perf_counter() - drain_start
            finally:
                sender.stop()
                receiver.stop()
    result: dict[str, Any] = {
        "benchmark": "sync",
        "messages": messages,
        "signed_durable_msgs_per_s": round(ours),
        "signed_durable_measures": "send_many 500 to a transaction (payloads built before the "
        "clock) to applied at the receiver; backlogs leave in frames of up to 64 envelopes",
        "baseline_raw_paho_qos1_msgs_per_s": round(raw),
        "throughput_ratio": round(ours / raw, 3),
        "baseline_raw_paho_qos1_one_at_a_time_msgs_per_s": round(raw_one_at_a_time),
        "throughput_ratio_vs_one_at_a_time": round(ours / raw_one_at_a_time, 3),
        "logging_on_msgs_per_s": [round(r) for r in rates[True]],
        "logging_off_msgs_per_s": [round(r) for r in rates[False]],
        "logging_on_vs_off_ratio": round(
            statistics.median(rates[True]) / statistics.median(rates[False]), 3
        ),
        "logging_measures": "the throughput run again with [sync.transparency] enabled = false "
        "on both services and the writer, alternated off/on/off after the first (on) run; "
        "the ratio of the medians",
        "backlog": backlog,
        "backlog_drain_s": round(drain_s, 1),
        "evidence_during_drain_s": round(evidence_s, 2),
        "targets": TARGETS,
    }
    result["meets_targets"] = {
        "throughput_ratio": result["throughput_ratio"] >= TARGETS["throughput_ratio"],
        "backlog_drain": drain_s <= TARGETS["backlog_drain_s"],
        "evidence_during_drain": evidence_s <= TARGETS["evidence_during_drain_s"],
    }
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    parser.add_argument("--backlog", type=int, default=100_000)
    args = parser.parse_args(argv)
    print(json.dumps(run(args.messages, args.backlog)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
