"""The link to one peer's MQTT broker: paho-mqtt 2, MQTT 5, QoS 1, a persistent session and
mutual TLS, reconnecting with backoff by itself.

One worker thread per link does all the link's store work, in order: it takes messages from
the outbox and publishes them, several of one topic to an MQTT message when it can (a frame,
`sync.frame`; a bounded window in flight, an optional bandwidth cap), marks them acknowledged
on the broker's PUBACK, and hands what arrives to the inbox in batches,
acknowledging each to the broker only after the inbox has committed it (paho's manual
acknowledgement). paho's network thread only puts events on the worker's queue.

With a `Pipeline` the worker verifies a batch itself (`Inbox.check`, no store) while the
store's thread applies and commits the batch before (`Inbox.apply`): one batch at a time is
applied, in the order received, and a batch is acknowledged to the broker only once its
commit is done, before the next one is handed over.
"""

from __future__ import annotations

import logging
import queue
import ssl
import threading
import time
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion
from paho.mqtt.packettypes import PacketTypes
from paho.mqtt.properties import Properties
from paho.mqtt.reasoncodes import ReasonCode

from edge.logs import log_event
from sync.frame import MAX_FRAME_BYTES, MAX_FRAME_ENVELOPES, SEPARATOR, group, pack
from sync.inbox import Checked, Incoming, Outcome, Result
from sync.link_events import LinkEvents
from sync.outbox import Outbox
from sync.topics import subscribe_patterns

log = logging.getLogger(__name__)

SESSION_EXPIRY_S = 7 * 24 * 3600  # the broker keeps our session and queue a week offline
RECEIVE_BATCH = 500  # envelopes handled in one inbox transaction, about (frames are whole)
REDELIVERY_CHECK_S = 1.0
# MQTT 5 Receive Maximum: the broker sends at most this many messages we have not acknowledged
# (we acknowledge after the inbox's commit), which bounds what waits in the worker's events.
RECEIVE_MAXIMUM = 1000
EVENT_HEADROOM = 256  # connects, disconnects, subscriptions, "applied", a wake
# How often an idle link looks in the outbox for what another writer of the store put there
# (the service's own `send` wakes it at once): an indexed query, a fraction of a millisecond.
IDLE_LOOK_S = 0.05

Receiver = Callable[[Sequence[Incoming]], list[Result]]


@dataclass(frozen=True)
class Pipeline:
    """Receiving in two stages: `check` runs on the link's thread and touches no store
    (`Inbox.check`); `apply` hands a checked batch to where the store's work runs and returns
    at once, with the future of its results (`Inbox.apply` on the store's thread)."""

    check: Callable[[Sequence[Incoming]], Checked]
    apply: Callable[[Checked], Future[list[Result]]]


# A batch handed to the store: its results to come, and the (mid, qos) of its MQTT messages.
_Applying = tuple[Future[list[Result]], list[tuple[int, int]]]


@dataclass(frozen=True)
class PeerSettings:
    name: str
    host: str
    port: int
    ca_file: Path
    cert_file: Path
    key_file: Path
    receive: bool = True  # subscribe to what is addressed to this node on this broker
    max_bytes_per_s: int | None = None  # a cap on what we publish, for thin links
    window: int = 256  # messages in flight at most
    keepalive_s: int = 30
    tls: bool = True  # False only for the benchmark's plain baseline listener
    # Several processes of one node (the national centre's instances) share what is addressed
    # to it: each connects with its own client id and an MQTT 5 shared subscription of this
    # group, and the broker hands each message to one of them.
    shared_group: str | None = None
    client_id: str | None = None  # default: the node id
    # How long the broker keeps this link's session, and queues what is addressed to it, while
    # it is away. A shared subscription's member wants it short: mosquitto hands an absent
    # member its share of the group's messages until its session expires.
    session_expiry_s: int = SESSION_EXPIRY_S
    # Topic filters to take instead of what is addressed to the node (the centre's relay tap).
    subscriptions: tuple[str, ...] | None = None


@dataclass
class LinkStats:
    published: int = 0  # envelopes
    frames: int = 0  # MQTT messages they went in
    acked: int = 0
    refused: int = 0
    received: int = 0
    applied: int = 0
    duplicates: int = 0
    quarantined: int = 0
    connects: int = 0
    disconnects: int = 0
    events_dropped: int = 0  # beyond the worker's event bound (see sync.link_events)


@dataclass
class TokenBucket:
    """The bandwidth cap: `rate` bytes a second, up to a second's worth saved up."""

    rate: float  # bytes per second
    clock: Callable[[], float] = time.monotonic
    tokens: float = 0.0
    stamp: float = 0.0

    def __post_init__(self) -> None:
        self.tokens = self.rate  # a second's worth to start with
        self.stamp = self.clock()

    def take(self, amount: int) -> bool:
        now = self.clock()
        self.tokens = min(self.rate, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= amount or self.tokens >= self.rate:  # one message may exceed a second
            self.tokens -= amount
            return True
        return False


class PeerLink:
    def __init__(
        self,
        settings: PeerSettings,
        node_id: str,
        outbox: Outbox | None,
        receive: Receiver | Pipeline | None,
        on_health: Callable[[str, bool, str], None] | None = None,
    ) -> None:
        """`receive` is the inbox's `receive`, or a function that runs it where the store's
        work runs (the service has one store thread), or a `Pipeline` of the two halves."""
        self.settings = settings
        self.node_id = node_id
        self.outbox = outbox
        self.receive = receive if settings.receive else None
        self.on_health = on_health
        self.stats = LinkStats()
        self.connected = threading.Event()
        self.subscribed = threading.Event()  # the broker confirmed our subscriptions
        self._events = LinkEvents(RECEIVE_MAXIMUM + settings.window + EVENT_HEADROOM)
        self._inflight: dict[int, list[str]] = {}  # paho mid -> the message ids it carries
        self._applying: _Applying | None = None  # the batch the store has (with a Pipeline)
        self._stop = threading.Event()
        self._next_redelivery = 0.0
        self._bucket = TokenBucket(settings.max_bytes_per_s) if settings.max_bytes_per_s else None
        self._client = self._make_client()
        self._worker = threading.Thread(target=self._run, name=f"sync-{settings.name}", daemon=True)

    # -- life cycle --------------------------------------------------------------------------

    def start(self) -> None:
        if self.outbox is not None:
            self.outbox.requeue_inflight(self.settings.name)  # what a previous run left in flight
        properties = Properties(PacketTypes.CONNECT)  # type: ignore[no-untyped-call]
        properties.SessionExpiryInterval = self.settings.session_expiry_s
        properties.ReceiveMaximum = RECEIVE_MAXIMUM
        self._client.connect_async(
            self.settings.host,
            self.settings.port,
            keepalive=self.settings.keepalive_s,
            clean_start=False,
            properties=properties,
        )
        self._client.loop_start()
        self._worker.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stop.set()
        self._events.put(("wake",))
        self._worker.join(timeout)
        self._client.disconnect()
        self._client.loop_stop()

    def notify(self) -> None:
        """Something new is in the outbox: send it now rather than at the next look."""
        self._events.put(("wake",))

    # -- paho's thread: events only ----------------------------------------------------------

    def _make_client(self) -> mqtt.Client:
        s = self.settings
        client = mqtt.Client(
            callback_api_version=CallbackAPIVersion.VERSION2,
            client_id=s.client_id or self.node_id,
            protocol=mqtt.MQTTv5,
            manual_ack=True,
        )
        if s.tls:
            client.tls_set(
                ca_certs=str(s.ca_file),
                certfile=str(s.cert_file),
                keyfile=str(s.key_file),
                cert_reqs=ssl.CERT_REQUIRED,
                tls_version=ssl.PROTOCOL_TLS_CLIENT,
            )
        client.reconnect_delay_set(min_delay=1, max_delay=30)
        client.max_inflight_messages_set(s.window)
        client.max_queued_messages_set(0)
        client.on_connect = self._on_connect
        client.on_disconnect = self._on_disconnect
        client.on_publish = self._on_publish
        client.on_message = self._on_message
        client.on_subscribe = self._on_subscribe
        return client

    def _on_subscribe(
        self, _client: mqtt.Client, _ud: Any, _mid: int, reasons: list[ReasonCode], _props: Any
    ) -> None:
        if all(not reason.is_failure for reason in reasons):
            self.subscribed.set()
            self._events.put(("subscribed",))
        else:
            self._events.put(("refused", f"subscription refused: {reasons}"))

    def _on_connect(
        self, client: mqtt.Client, _ud: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        if reason.is_failure:
            self._events.put(("refused", str(reason)))
            return
        if self.receive is not None:
            patterns = list(self.settings.subscriptions or subscribe_patterns(self.node_id))
            if self.settings.shared_group:
                patterns = [f"$share/{self.settings.shared_group}/{p}" for p in patterns]
            client.subscribe([(pattern, 1) for pattern in patterns])
        self._events.put(("connected",))

    def _on_disconnect(
        self, _client: mqtt.Client, _ud: Any, _flags: Any, reason: ReasonCode, _props: Any
    ) -> None:
        self._events.put(("disconnected", str(reason)))

    def _on_publish(
        self, _client: mqtt.Client, _ud: Any, mid: int, reason: ReasonCode, _props: Any
    ) -> None:
        self._events.put(("puback", mid, reason.is_failure, reason.value, str(reason)))

    def _on_message(self, _client: mqtt.Client, _ud: Any, message: mqtt.MQTTMessage) -> None:
        self._events.put(("message", message.mid, message.qos, message.topic, message.payload))

    # -- the worker --------------------------------------------------------------------------

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                event = self._events.get(timeout=IDLE_LOOK_S)
            except queue.Empty:
                event = ("wake",)
            try:
                self._handle(event)
                self._send()
            except Exception:  # the link must outlive any one bad moment; it is logged
                log.exception("sync.link_error", extra={"peer": self.settings.name})
                self._stop.wait(1.0)
        try:
            self._finish_applying()  # what the store still commits is acknowledged, if it is
        except Exception:
            log.exception("sync.link_error", extra={"peer": self.settings.name})

    def _handle(self, first: tuple[Any, ...]) -> None:
        acked: list[str] = []
        refused: list[tuple[list[str], int, str]] = []  # ids, reason code, its name
        received: list[tuple[int, int, Incoming]] = []
        envelopes = 0
        applied = False
        event: tuple[Any, ...] | None = first
        while event is not None:
            kind = event[0]
            if kind == "puback":
                _, mid, failed, code, reason = event
                message_ids = self._inflight.pop(mid, None)
                if message_ids is not None:
                    if failed:
                        refused.append((message_ids, code, reason))
                    else:
                        acked.extend(message_ids)
                    if failed:
                        log_event(
                            log, logging.ERROR, "sync.refused", peer=self.settings.name,
                            id=",".join(message_ids), reason=reason,
                        )  # fmt: skip
            elif kind == "message":
                _, mid, qos, topic, payload = event
                received.append((mid, qos, Incoming(self.settings.name, topic, payload)))
                envelopes += payload.count(SEPARATOR) + 1  # a frame holds several
                if envelopes >= RECEIVE_BATCH:
                    break
            elif kind == "applied":
                applied = True
            elif kind == "connected":
                self.stats.connects += 1
                self.connected.set()
                self._health(True, "connected")
            elif kind == "disconnected":
                self.stats.disconnects += 1
                self.connected.clear()
                self._inflight.clear()
                if self.outbox is not None:
                    self.outbox.requeue_inflight(self.settings.name)
                self._health(False, f"disconnected: {event[1]}")
            elif kind == "subscribed":
                log_event(log, logging.INFO, "sync.subscribed", peer=self.settings.name)
            elif kind == "refused":
                self._health(False, f"connection refused: {event[1]}")
            try:
                event = self._events.get_nowait()
            except queue.Empty:
                event = None
        if self.outbox is not None:
            if acked:
                self.outbox.acknowledged(acked)
                self.stats.acked += len(acked)
            for message_ids, code, reason in refused:
                self.outbox.refused(message_ids, self.settings.name, code, reason)
                self.stats.refused += len(message_ids)
        if self._events.dropped != self.stats.events_dropped:
            log_event(
                log, logging.ERROR, "sync.events_dropped", peer=self.settings.name,
                dropped=self._events.dropped - self.stats.events_dropped,
            )  # fmt: skip
            self.stats.events_dropped = self._events.dropped
        if received:
            self._receive(received)
        elif applied and self._applying is not None and self._applying[0].done():
            self._finish_applying()

    def _receive(self, received: list[tuple[int, int, Incoming]]) -> None:
        assert self.receive is not None  # only subscribed with an inbox
        items = [item for _, _, item in received]
        messages = [(mid, qos) for mid, qos, _ in received]
        if not isinstance(self.receive, Pipeline):
            self._acknowledge(messages, self.receive(items))
            return
        checked = self.receive.check(items)  # while the store commits the batch before
        try:
            self._finish_applying()  # that one first: acknowledged in order, or not at all
        finally:
            future = self.receive.apply(checked)
            self._applying = (future, messages)
            future.add_done_callback(lambda _: self._events.put(("applied",)))

    def _finish_applying(self) -> None:
        """Wait for the batch the store has; acknowledge it once committed. When the store
        failed, this raises and nothing of that batch is acknowledged: the broker has it still."""
        if self._applying is None:
            return
        future, messages = self._applying
        self._applying = None
        self._acknowledge(messages, future.result())

    def _acknowledge(self, messages: list[tuple[int, int]], results: list[Result]) -> None:
        # Committed, every envelope of every message: now, and only now, the broker may forget
        # them.
        for mid, qos in messages:
            self._client.ack(mid, qos)
        for result in results:
            self.stats.received += 1
            if result.outcome is Outcome.APPLIED:
                self.stats.applied += 1
            elif result.outcome is Outcome.DUPLICATE:
                self.stats.duplicates += 1
            else:
                self.stats.quarantined += 1

    def _send(self) -> None:
        if self.outbox is None or not self.connected.is_set():
            return
        now = time.monotonic()
        if now >= self._next_redelivery:  # what the receiver never acknowledged goes again
            self._next_redelivery = now + REDELIVERY_CHECK_S
            self.outbox.redeliver_overdue(self.settings.name)
            self.outbox.release_refused(self.settings.name)  # their backoff has passed
        room = self.settings.window - len(self._inflight)
        if room <= 0:
            return
        taken = self.outbox.take(self.settings.name, room * MAX_FRAME_ENVELOPES)
        frames = group(taken, int(self._bucket.rate) if self._bucket else MAX_FRAME_BYTES)
        if len(frames) > room:  # more frames than the window takes: the rest pending again
            self.outbox.requeue([m.id for rest in frames[room:] for m in rest])
            frames = frames[:room]
        for index, frame in enumerate(frames):
            payload = pack([m.envelope for m in frame], self.outbox.signer)
            over_cap = self._bucket is not None and not self._bucket.take(len(payload))
            topic = frame[0].topic
            info = None if over_cap else self._client.publish(topic, payload, qos=1)
            if info is None or info.rc != mqtt.MQTT_ERR_SUCCESS:
                # Over the cap, or the link went meanwhile: these wait, in their order.
                self.outbox.requeue([m.id for rest in frames[index:] for m in rest])
                return
            self._inflight[info.mid] = [m.id for m in frame]
            self.stats.published += len(frame)
            self.stats.frames += 1

    def _health(self, up: bool, why: str) -> None:
        log_event(log, logging.INFO, "sync.link", peer=self.settings.name, up=up, why=why)
        if self.on_health:
            self.on_health(self.settings.name, up, why)
