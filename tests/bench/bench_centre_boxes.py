"""The boxes of a country's day, as the centre hears them: each box a signer with its own
identity (key and certificate from the fleet PKI) and its own MQTT connection with its own
client certificate, publishing the signed envelopes its outbox would, in its streams' order.

A worker process plays a share of the boxes. The envelopes are signed before the clock
starts (each box signs on its own CPU in the field; the centre's cost is what is measured);
then every box publishes at once, QoS 1 with up to `WINDOW` in flight as the real link does,
and subscribes to what is addressed to it, so the centre's acknowledgements flow back through
the broker as they would. `frame` > 1 packs up to that many envelopes of one topic in a frame
(`sync.frame`, what a box does with a backlog); 1 is the live day, each message on its own.
"""

from __future__ import annotations

import datetime as dt
import itertools
import random
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from edge.timeutil import utcnow
from sync.envelope import default_stream, seal_new
from sync.frame import pack
from sync.messages import (
    ArrivalMessage,
    DecisionMessage,
    ManifestRef,
    Message,
    PlateReadout,
    TelemetryMessage,
)
from sync.outbox import Signer
from sync.topics import subscribe_patterns, topic_for

WINDOW = 256  # messages in flight per box, as sync.transport.PeerSettings.window
KINDS = ("arrival", "telemetry", "decision")  # one truck: its arrival, a reading, the decision


@dataclass(frozen=True)
class BoxSpec:
    node_id: str
    identity: Path  # node.key and node.crt
    messages: int


@dataclass(frozen=True)
class WorkerSpec:
    boxes: tuple[BoxSpec, ...]
    centre: str
    port: int
    ca_bundle: Path
    frame: int
    seed: int

    @property
    def messages(self) -> int:
        return sum(box.messages for box in self.boxes)


@dataclass
class Published:
    topic: str
    payload: bytes
    envelopes: int


def truck_messages(rng: random.Random, node: str, truck: int) -> Iterator[Message]:
    """What one truck makes a box send, in order: the arrival (with the camera's reads), a
    reading of the lane's health, the officer's decision."""
    ref = f"26KZ0519332{truck:06d}"[:35]
    opened = utcnow()
    plate = f"{rng.randint(100, 999)}AB{rng.randint(1, 17):02d}"
    reads = (PlateReadout(text=plate, confidence=0.93, position="tractor"),
             PlateReadout(text=plate.replace("B", "8"), confidence=0.41, position="tractor"))  # fmt: skip
    yield ArrivalMessage(node=node, lane=str(1 + truck % 4), arrival_id=truck, opened_at=opened,
                         plate_reads=reads, best_ref=ref, best_score=0.97)  # fmt: skip
    yield TelemetryMessage(metrics={
        "lane.frames_per_s": round(rng.uniform(9, 12), 2), "plates.p95_ms": rng.randint(90, 250),
        "outbox.depth": rng.randint(0, 40), "disk.free_pct": rng.randint(40, 90),
        "seal_reader.up": True, "cpu.temp_c": round(rng.uniform(35, 70), 1),
    })  # fmt: skip
    yield DecisionMessage(
        arrival={"node": node, "arrival_id": truck},
        manifest=ManifestRef(ref=ref, issuer="KZ-CIS"),
        decision=rng.choice(("release", "release", "documentary_check", "physical_inspection")),
        reason="CLEAR",
        officer=f"officer-{rng.randint(1, 30)}", decided_at=opened + dt.timedelta(minutes=4),
    )  # fmt: skip


def signed_day(box: BoxSpec, centre: str, rng: random.Random) -> list[tuple[str, bytes]]:
    """The box's `messages` envelopes for the centre, signed, with their topics, in the order
    its outbox would have them (one stream per type, each numbered from 1)."""
    signer = Signer.load(box.identity, box.node_id)
    seqs = dict.fromkeys(KINDS, 0)
    out: list[tuple[str, bytes]] = []
    truck = 0
    now = utcnow()
    while len(out) < box.messages:
        truck += 1
        for message in truck_messages(rng, box.node_id, truck):
            if len(out) == box.messages:
                break
            seqs[message.TYPE] += 1
            stream = default_stream(box.node_id, centre, message.TYPE)
            _, signed = seal_new(
                message, signer.private_key, box.node_id, centre, seq=seqs[message.TYPE],
                stream=stream, created=now, certificate_pem=signer.certificate_pem,
            )  # fmt: skip
            out.append((topic_for(box.node_id, centre, message.TYPE), signed))
    return out


def framed(box: BoxSpec, envelopes: list[tuple[str, bytes]], frame: int) -> list[Published]:
    """The MQTT messages a box publishes: one envelope each, or frames of up to `frame`
    consecutive envelopes of one topic (each stream's order kept)."""
    if frame <= 1:
        return [Published(topic, data, 1) for topic, data in envelopes]
    signer = Signer.load(box.identity, box.node_id)
    by_topic: dict[str, list[bytes]] = {}
    for topic, data in envelopes:
        by_topic.setdefault(topic, []).append(data)
    per_topic = [
        [Published(topic, pack(items[i : i + frame], signer), len(items[i : i + frame]))
         for i in range(0, len(items), frame)]
        for topic, items in by_topic.items()
    ]  # fmt: skip
    # Interleaved, so the types travel side by side as a day's traffic does.
    return [p for row in itertools.zip_longest(*per_topic) for p in row if p is not None]


class BoxClient:
    """One box's MQTT connection, with its own certificate (the broker's ACL allows it its own
    topics only)."""

    def __init__(self, box: BoxSpec, spec: WorkerSpec) -> None:
        self.box = box
        self.acked = 0
        self.acks_received = 0
        self.subscribed = threading.Event()
        client = mqtt.Client(callback_api_version=CallbackAPIVersion.VERSION2,
                             client_id=box.node_id, protocol=mqtt.MQTTv5)  # fmt: skip
        client.tls_set(ca_certs=str(spec.ca_bundle), certfile=str(box.identity / "node.crt"),
                       keyfile=str(box.identity / "node.key"), cert_reqs=ssl.CERT_REQUIRED)  # fmt: skip
        client.max_inflight_messages_set(WINDOW)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_subscribe = lambda *_: self.subscribed.set()
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        self.client = client
        self._lock = threading.Lock()

    def _on_connect(self, client: mqtt.Client, *_: Any) -> None:
        client.subscribe([(pattern, 1) for pattern in subscribe_patterns(self.box.node_id)])

    def _on_publish(self, *_: Any) -> None:
        with self._lock:
            self.acked += 1

    def _on_message(self, *_: Any) -> None:
        self.acks_received += 1  # the centre's acknowledgements of what it applied


def run_worker(spec: WorkerSpec, pipe: Connection) -> None:
    """The worker's life: sign, connect, say "ready"; on "go" publish everything, wait for
    every PUBACK, and send back what it did."""
    rng = random.Random(spec.seed)
    signed = [signed_day(box, spec.centre, rng) for box in spec.boxes]
    days = [
        (box, framed(box, day, spec.frame)) for box, day in zip(spec.boxes, signed, strict=True)
    ]
    clients = [BoxClient(box, spec) for box in spec.boxes]
    for client in clients:
        client.client.connect("127.0.0.1", spec.port)
        client.client.loop_start()
    for client in clients:
        if not client.subscribed.wait(60):
            raise RuntimeError(f"{client.box.node_id}: not subscribed within 60 s")
    envelope_bytes = sum(len(data) for day in signed for _, data in day)
    telemetry = sum(topic.endswith("/telemetry") for day in signed for topic, _ in day)
    sizes = [len(p.payload) for _, day in days for p in day]
    pipe.send(("ready", {"mqtt_messages": len(sizes), "bytes": sum(sizes),
                         "envelope_bytes": envelope_bytes, "telemetry": telemetry}))  # fmt: skip
    credit = Credit(pipe)
    credit.wait_for(1)  # the first credit is the start
    start = time.perf_counter()
    sent = 0
    longest = max(len(day) for _, day in days)
    for index in range(longest):  # every box in turn, as their day's traffic interleaves
        for client, (_, day) in zip(clients, days, strict=True):
            if index < len(day):
                sent += day[index].envelopes
                credit.wait_for(sent)
                client.client.publish(day[index].topic, day[index].payload, qos=1)
    wanted = {c.box.node_id: len(day) for c, (_, day) in zip(clients, days, strict=True)}
    deadline = time.monotonic() + 1800
    while any(c.acked < wanted[c.box.node_id] for c in clients):
        if time.monotonic() > deadline:
            raise RuntimeError("the broker did not acknowledge every publish within 30 min")
        credit.wait(0.05)  # a poll of counters, not a synchronisation
    pipe.send(("published", {"seconds": time.perf_counter() - start}))
    credit.wait_for_stop()
    pipe.send(("acks", sum(c.acks_received for c in clients)))
    for client in clients:
        client.client.disconnect()
        client.client.loop_stop()


class Credit:
    """How many envelopes the bench lets this worker have published so far: the boxes keep
    at most a lead over what the centre has applied (see bench_centre_day, `lead`)."""

    def __init__(self, pipe: Connection) -> None:
        self.pipe = pipe
        self.allowed = 0
        self.stopped = False

    def wait(self, timeout: float) -> None:
        """Take the credits the bench sent, waiting up to `timeout` for the first."""
        while not self.stopped and self.pipe.poll(timeout):
            kind, value = self.pipe.recv()
            if kind == "stop":
                self.stopped = True
            else:
                self.allowed = max(self.allowed, int(value))
            timeout = 0

    def wait_for(self, envelopes: int) -> None:
        self.wait(0)
        while self.allowed < envelopes:
            if self.stopped:
                raise RuntimeError("stopped before every envelope was published")
            self.wait(1.0)

    def wait_for_stop(self) -> None:
        while not self.stopped:
            self.wait(1.0)
