"""A country's day at the centre (issue 14): 100 boxes send their arrivals, readings
(telemetry) and decisions through a real mosquitto with mutual TLS and ACLs; one centre
instance (`CentreService`, PostgreSQL) applies them all. Timed from the first publish to the
last message applied, against the sync benchmark's raw paho QoS 1 baseline of as many
messages of the same size on the same broker, in the same run (at most `RAW_BASELINE_MAX`).

Why these publishers: what the centre pays for is per box (each origin's certificate checked,
each box's streams numbered and ordered, an acknowledgement back to each box), per connection
(the broker fans 100 clients into one shared subscription) and per message. So each box is its
own identity, connection and signer, exactly as in the field; only the boxes' own work (their
stores and signing) is left out of the clock, by signing before it, in worker processes
(two by default, each playing half the boxes) so the publishing does not share the centre's
interpreter.

The boxes keep at most `lead` envelopes ahead of what the centre applied (credit the bench
gives them as it polls the centre's count): a day is played in a minute, and without a bound
today's centre stalls (`LEAD_MQTT_MESSAGES`). `lead=0` plays it unbounded.
"""

from __future__ import annotations

import math
import multiprocessing
import tempfile
import time
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from centre.config import CentreConfig
from centre.service import CentreService
from provisioning.identity.fleet import Fleet, make_fleet
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker
from tests.bench.bench_centre_boxes import BoxSpec, WorkerSpec, run_worker
from tests.bench.bench_sync import raw_paho_rate
from tests.fixtures.postgres import postgres_server
from tests.sync.crossing import EXIT

CENTRE = "KZ-CIS"
TARGET_S = 60.0
FULL_DAY = 150_000
# The boxes stay at most this many MQTT messages ahead of what the centre applied, by default:
# under its Receive Maximum (1000). Unbounded, mosquitto 2.0.11 sends the centre more than its
# Receive Maximum, its link's event queue overflows and drops messages, which the broker only
# sends again after a reconnect: the centre stalls (see the report of issue 14's benchmark).
LEAD_MQTT_MESSAGES = 900
# The raw paho baseline publishes at most this many: a rate needs no more, and a pipelined loop
# of 150,000 runs at a fifth of the rate of one of 30,000 (the client's own queue, not the
# broker: measured 1,200/s against 6,000-10,000/s on this machine).
RAW_BASELINE_MAX = 20_000


def box_ids(count: int) -> list[str]:
    """The boxes; the first is the sync benchmark's exit post, whose identity its raw paho
    baseline publishes with."""
    return [EXIT, *(f"KZ-BOX{n:03d}-1" for n in range(2, count + 1))]


def centre_config(fleet: Fleet, url: str, port: int) -> CentreConfig:
    return CentreConfig.model_validate({
        "centre": {"id": CENTRE, "database": url},
        "identity": {"identity_dir": str(fleet.nodes[CENTRE]),
                     "trust_store": str(fleet.trust_store)},
        "broker": {"host": "127.0.0.1", "port": port, "ca_file": str(fleet.ca_bundle)},
        "api": {"host": "127.0.0.1", "port": 0},
        "drop": {"directory": None},
    })  # fmt: skip


def count(engine: Engine, table: str) -> int:
    with engine.connect() as conn:
        return int(conn.exec_driver_sql(f"SELECT count(*) FROM {table}").scalar() or 0)


def worker_specs(
    fleet: Fleet, boxes: list[str], messages: int, workers: int, port: int, frame: int, seed: int
) -> list[WorkerSpec]:
    share, extra = divmod(messages, len(boxes))
    specs = [BoxSpec(b, fleet.nodes[b], share + (i < extra)) for i, b in enumerate(boxes)]
    return [
        WorkerSpec(tuple(specs[w::workers]), CENTRE, port, fleet.ca_bundle, frame, seed + w)
        for w in range(workers)
    ]


def expect(pipe: Connection, what: str, timeout: float) -> Any:
    if not pipe.poll(timeout):
        raise RuntimeError(f"a box worker did not say {what!r} within {timeout:.0f} s")
    try:
        kind, value = pipe.recv()
    except EOFError:
        raise RuntimeError(
            f"a box worker ended before saying {what!r} (its error is above)"
        ) from None
    if kind != what:
        raise RuntimeError(f"a box worker said {kind!r}, expected {what!r}")
    return value


def _applied_all(
    service: CentreService, pipes: list[Connection], shares: list[float], messages: int,
    lead: int, deadline_s: float,
) -> float:  # fmt: skip
    """Seconds from the start until the centre applied every message, polling its count; the
    boxes are given credit to stay at most `lead` envelopes ahead of it (0: no bound)."""
    start = time.perf_counter()
    applied = 0
    while applied < messages:
        allowed = messages if lead == 0 else applied + lead
        for pipe, share in zip(pipes, shares, strict=True):
            pipe.send(("credit", math.ceil(allowed * share)))
        if time.perf_counter() - start > deadline_s:
            raise RuntimeError(
                f"the centre applied {applied} of {messages} in {deadline_s:.0f} s; "
                f"its link: {service.links[0].stats}"
            )
        time.sleep(0.25)  # polling a count, not a synchronisation
        applied = count(service.engine, "inbox_applied")
    return time.perf_counter() - start


def run_day(
    messages: int, boxes: int, workers: int, frame: int, seed: int, deadline_s: float,
    lead: int,
) -> dict[str, Any]:  # fmt: skip
    context = multiprocessing.get_context("spawn")  # the centre's threads are not forked
    with tempfile.TemporaryDirectory() as tmp, postgres_server() as postgres:
        root = Path(tmp)
        nodes = box_ids(boxes)
        fleet = make_fleet(root / "fleet", [CENTRE, *nodes])
        tls = TlsListener(port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert,
                          keyfile=fleet.broker_key)  # fmt: skip
        access = tuple(TopicAccess.for_node(n) for n in (CENTRE, *nodes))
        with MosquittoBroker(BrokerConfig(tls=tls, access=access), root / "broker") as broker:
            service = CentreService.build(
                centre_config(fleet, postgres.create_database(), broker.port)
            )
            service.start()
            processes: list[BaseProcess] = []
            try:
                if not service.links[0].subscribed.wait(30):
                    raise RuntimeError("the centre did not subscribe within 30 s")
                pipes = []
                specs = worker_specs(fleet, nodes, messages, workers, broker.port, frame, seed)
                for spec in specs:
                    ours, theirs = context.Pipe()
                    worker: BaseProcess = context.Process(
                        target=run_worker, args=(spec, theirs), daemon=True
                    )
                    worker.start()
                    processes.append(worker)
                    pipes.append(ours)
                ready = [expect(pipe, "ready", 900) for pipe in pipes]
                shares = [spec.messages / messages for spec in specs]
                seconds = _applied_all(service, pipes, shares, messages, lead, deadline_s)
                published = [expect(pipe, "published", 600) for pipe in pipes]
                for pipe in pipes:
                    pipe.send(("stop", 0))
                acks = sum(expect(pipe, "acks", 60) for pipe in pipes)
                tables = {t: count(service.engine, t) for t in
                          ("inbox_applied", "cis_events", "quarantine", "inbox_parked")}  # fmt: skip
                stats = service.links[0].stats
            finally:
                for process in processes:
                    process.join(30)
                    if process.is_alive():
                        process.terminate()
                service.close()
            mqtt_messages = sum(r["mqtt_messages"] for r in ready)
            size = round(sum(r["envelope_bytes"] for r in ready) / messages)
            # As bench_sync does: plain QoS 1 publishes of an envelope's mean size, nobody
            # subscribed (the broker's cost only).
            raw = raw_paho_rate(fleet, broker.port, min(messages, RAW_BASELINE_MAX), size)
            # And the day's own MQTT messages: as many, of their mean size (frames or not).
            frame_bytes = round(sum(r["bytes"] for r in ready) / mqtt_messages)
            raw_frames = raw_paho_rate(
                fleet, broker.port, min(mqtt_messages, RAW_BASELINE_MAX), frame_bytes
            )
    feed = messages - sum(r["telemetry"] for r in ready)  # arrivals and decisions
    if tables["cis_events"] != feed or tables["quarantine"] or tables["inbox_parked"]:
        raise RuntimeError(f"the day applied wrongly: {tables}, expected {feed} cis_events")
    rate = messages / seconds
    return {
        "benchmark": "centre_day",
        "boxes": boxes,
        "messages": messages,
        "full_day": messages >= FULL_DAY,
        "mix": "per truck: arrival, telemetry reading, decision",
        "mqtt_messages": mqtt_messages,
        "envelopes_per_mqtt_message": frame,
        "mean_envelope_bytes": size,
        "mean_mqtt_message_bytes": frame_bytes,
        "publisher_processes": workers,
        "lead_envelopes": lead,
        "seconds": round(seconds, 1),
        "msgs_per_s": round(rate),
        "publish_seconds": round(max(p["seconds"] for p in published), 1),
        "applied": tables["inbox_applied"],
        "cis_events": tables["cis_events"],
        "quarantined": tables["quarantine"],
        "parked": tables["inbox_parked"],
        "link_received": stats.received,
        "link_events_dropped": stats.events_dropped,
        "acks_received_by_boxes": acks,
        "baseline_raw_paho_messages": min(messages, RAW_BASELINE_MAX),
        "baseline_raw_paho_qos1_msgs_per_s": round(raw),
        "ratio_to_raw_paho": round(rate / raw, 3),
        "baseline_raw_paho_qos1_same_mqtt_messages_envelopes_per_s": round(
            raw_frames * messages / mqtt_messages
        ),
        "ratio_to_raw_paho_same_mqtt_messages": round(
            rate / (raw_frames * messages / mqtt_messages), 3
        ),
        "target_s": TARGET_S,
        "seconds_for_full_day": round(FULL_DAY / rate, 1),
        "meets_target": FULL_DAY / rate <= TARGET_S,
        "target_judged_on": "measured" if messages >= FULL_DAY else "extrapolated to 150,000",
    }
