"""`carec-edge demo` (what `make demo` runs): a road crossing of two posts on one machine.

A real mosquitto with mutual TLS and the topic ACL; the Kazakh exit post (KZ-NURZHOLY-1) and
the Kyrgyz entry post (KG-TORUGART-1), each a `carec-edge run` process with its own data
directory and identity from a small fleet PKI; and the Kazakh customs system (KZ-CIS),
simulated, sending the day's signed pre-arrival records to the exit post.

The day's trucks reach the exit post with camera-like noise on their plates and are matched
there. Each truck that leaves sends an exit confirmation to the entry post, where it becomes
pre-arrival information; the trucks then arrive at the entry post, are read again, and are
matched against what came from the other side of the border.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge.cli.context import CliContext
from edge.config import MatchingConfig
from edge.demo import Outcome, describe, replay, summary
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher, Observation, PlateRead
from edge.plate_formats import match_formats
from edge.plates import canonical_key
from edge.store import open_database
from edge.synthetic import Scenario, arrivals, generate_day
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker
from sync.inbox import Inbox
from sync.messages import ExitConfirmationMessage, ManifestMessage, Message
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.transport import PeerLink, PeerSettings

CIS, EXIT, ENTRY = "KZ-CIS", "KZ-NURZHOLY-1", "KG-TORUGART-1"
CAMERA_TRUCKS = 12
TIMEOUT_S = 120.0


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="a crossing of two posts and a customs system, on this machine"
    )
    parser.add_argument("--trucks", type=int, default=150, help="trucks in the day (150)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--dir", type=Path, help="keep everything here (default: a temp dir)")
    parser.add_argument("--verbose", action="store_true", help="print every truck")
    parser.set_defaults(handler=demo_command)


def demo_command(args: argparse.Namespace, _context: CliContext) -> int:
    if args.trucks < 1:
        print("carec-edge: --trucks must be at least 1", file=sys.stderr)
        return 2
    if args.dir:
        args.dir.mkdir(parents=True, exist_ok=True)
        return Crossing(args.dir, args.trucks, args.seed, args.verbose).run()
    with tempfile.TemporaryDirectory(prefix="carec-edge-demo-") as tmp:
        return Crossing(Path(tmp), args.trucks, args.seed, args.verbose).run()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        pause.wait(0.1)


class Post:
    """One post's `carec-edge run`, its log in a file, and a view of its store."""

    def __init__(self, root: Path, fleet: Fleet, node_id: str, port: int) -> None:
        self.node_id = node_id
        self.data_dir = root / node_id
        self.engine = open_database(self.data_dir)
        self.cache = ManifestCache(self.engine)
        self.config = root / f"{node_id}.toml"
        self.config.write_text(node_config(fleet, node_id, port), encoding="utf-8")
        self.log_path = root / f"{node_id}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "edge.cli", "--config", str(self.config),
                   "--data-dir", str(self.data_dir), "run"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stderr=log, stdout=log, env=os.environ.copy())
        wait_until(
            lambda: b"sync.subscribed" in self.log_path.read_bytes(), f"{self.node_id}'s link"
        )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def outbox(self, fleet: Fleet) -> Outbox:
        signer = Signer.load(fleet.nodes[self.node_id], self.node_id)
        return Outbox(self.engine, signer, [Route("*", "hub")])


def node_config(fleet: Fleet, node_id: str, port: int, redeliver_after_s: float = 10.0) -> str:
    """The config file of a fleet node whose one peer is the broker on 127.0.0.1:`port`."""
    return f"""[node]
id = "{node_id}"

[logging]
level = "INFO"

[kiosk]
enabled = false

[sync]
identity_dir = "{fleet.nodes[node_id]}"
trust_store = "{fleet.trust_store}"
redeliver_after_s = {redeliver_after_s}

[[sync.peers]]
name = "hub"
host = "127.0.0.1"
port = {port}
ca_file = "{fleet.ca_bundle}"
destinations = ["*"]
"""


class Crossing:
    def __init__(self, root: Path, trucks: int, seed: int, verbose: bool) -> None:
        self.root = root
        self.trucks = trucks
        self.rng = random.Random(seed)
        self.show = None if verbose else 15

    def run(self) -> int:
        print(f"== a crossing of two posts, in {self.root}")
        fleet = make_fleet(self.root / "fleet", [CIS, EXIT, ENTRY])
        print(f"fleet PKI: a CA each for KZ and KG; identities for {CIS}, {EXIT}, {ENTRY}")
        access = tuple(TopicAccess.for_node(n) for n in (CIS, EXIT, ENTRY))
        tls = TlsListener(port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert,
                          keyfile=fleet.broker_key)  # fmt: skip
        with MosquittoBroker(BrokerConfig(tls=tls, access=access), self.root / "broker") as broker:
            print(f"mosquitto on 127.0.0.1:{broker.port}: mutual TLS, each node writes only "
                  "under its own topics")  # fmt: skip
            exit_post = Post(self.root, fleet, EXIT, broker.port)
            entry_post = Post(self.root, fleet, ENTRY, broker.port)
            cis = self._cis(fleet, broker.port)
            try:
                exit_post.start()
                entry_post.start()
                print(f"{EXIT} and {ENTRY} are running (carec-edge run; logs in {self.root})")
                cis.start()
                self._play(fleet, cis, exit_post, entry_post)
            finally:
                cis.stop()
                exit_post.stop()
                entry_post.stop()
        return 0

    def _cis(self, fleet: Fleet, port: int) -> PeerLink:
        engine = open_database(self.root / CIS)
        self.cis_outbox = Outbox(engine, Signer.load(fleet.nodes[CIS], CIS), [Route("*", "hub")])
        inbox = Inbox(engine, CIS, key_lookup(TrustStore.load(fleet.trust_store)),
                      appliers(ManifestCache(engine), self.cis_outbox),
                      acknowledge=acknowledger(self.cis_outbox))  # fmt: skip
        identity = fleet.nodes[CIS]
        settings = PeerSettings("hub", "127.0.0.1", port, fleet.ca_bundle,
                                identity / "node.crt", identity / "node.key")  # fmt: skip
        return PeerLink(settings, CIS, self.cis_outbox, inbox.receive)

    def _play(self, fleet: Fleet, cis: PeerLink, exit_post: Post, entry_post: Post) -> None:
        day = utcnow().date()
        records = generate_day(self.rng, day, self.trucks)
        start = time.perf_counter()
        send: list[tuple[Message, str, str | None]] = [
            (ManifestMessage(record=r), EXIT, None) for r in records
        ]
        self.cis_outbox.send_many(send)
        cis.notify()
        wait_until(lambda: exit_post.cache.count() >= len(records), "the CIS's records")
        print(f"\n== {CIS} sent {len(records)} signed pre-arrival records to {EXIT}: "
              f"applied there in {time.perf_counter() - start:.1f} s")  # fmt: skip

        settings = MatchingConfig()
        at_exit = arrivals(self.rng, records, window=settings)
        exit_post.cache.forget_index()  # the service wrote; this view reads afresh
        outcomes = replay(Matcher(exit_post.cache, settings), at_exit)
        self._report(f"trucks at the exit post {EXIT}", outcomes)

        leaving = self._leaving(outcomes)
        start = time.perf_counter()
        confirmations: list[tuple[Message, str, str | None]] = [
            (ExitConfirmationMessage(record=record, exited_at=utcnow(),
                                     seals=record.seals, exit_node=EXIT), ENTRY, None)
            for record in leaving
        ]  # fmt: skip
        exit_post.outbox(fleet).send_many(confirmations)
        wait_until(lambda: entry_post.cache.count() >= len(leaving), "the exit confirmations")
        print(f"\n== {EXIT} sent {len(leaving)} exit confirmations to {ENTRY}: applied there "
              f"as pre-arrival information in {time.perf_counter() - start:.1f} s")  # fmt: skip

        hour = dt.timedelta(hours=1)  # the road between the posts
        later = [
            r.model_copy(update={"expected_arrival": r.expected_arrival + hour}) for r in leaving
        ]
        at_entry = arrivals(self.rng, later, fault_rate=0.05, window=settings)
        entry_post.cache.forget_index()
        entry_outcomes = replay(Matcher(entry_post.cache, settings), at_entry)
        self._report(f"the same trucks at the entry post {ENTRY}", entry_outcomes)
        self._camera_lane(Matcher(entry_post.cache, settings), later)
        self._status(fleet, exit_post, entry_post)

    def _camera_lane(self, matcher: Matcher, records: Sequence[Manifest]) -> None:
        """Some of the trucks again, this time as camera frames: rendered plates on trucks, read
        by the box's plate recognition and matched on what it read alone."""
        from drivers.plates.recognizer import PlateRecognizer
        from drivers.sim.plates import render_scene

        trucks = [r for r in records if match_formats(r.transport.plate)][:CAMERA_TRUCKS]
        if not trucks:
            return
        print(f"\n== {len(trucks)} of them at {ENTRY}'s lane camera: frames rendered with dirt, "
              "blur and night light, read by plate recognition (one core), matched on the "
              "plate alone")  # fmt: skip
        recognizer = PlateRecognizer()
        exact = right = 0
        times: list[float] = []
        for record in trucks:
            plate = record.transport.plate
            fmt = match_formats(plate)[0]
            frame, _ = render_scene(plate, fmt, self.rng, strength=self.rng.uniform(0.0, 0.7))
            result = recognizer.read(frame)
            times.append(result.timings_ms["total"])
            reads = tuple(
                PlateRead(c.guess.written, c.guess.confidence, "tractor") for c in result.candidates
            )
            match = matcher.match(Observation(plates=reads, at=record.expected_arrival))
            read = reads[0].text if reads else "-"
            exact += canonical_key(read) == canonical_key(plate)
            right += match.best is not None and match.best.ref == record.ref
            got = match.best.ref if match.best else "no record"
            print(f"  {plate:<14} read {read:<14} ({times[-1]:4.0f} ms) -> {got}")
        times.sort()
        print(f"read exactly {exact}/{len(trucks)}, matched to their record {right}/{len(trucks)}, "
              f"median {times[len(times) // 2]:.0f} ms a frame")  # fmt: skip

    @staticmethod
    def _leaving(outcomes: Sequence[Outcome]) -> list[Manifest]:
        """The trucks the exit post cleared: those matched to their own record."""
        return [o.arrival.record for o in outcomes
                if o.right and o.arrival.scenario is not Scenario.NO_PRE_ARRIVAL]  # fmt: skip

    def _report(self, title: str, outcomes: Sequence[Outcome]) -> None:
        print(f"\n== {title}: read -> ref, score, plate on record")
        for outcome in outcomes if self.show is None else outcomes[: self.show]:
            print(describe(outcome))
        if self.show is not None and len(outcomes) > self.show:
            print(f"... {len(outcomes) - self.show} more (--verbose prints every truck)")
        print("\n".join(summary(outcomes)))

    @staticmethod
    def _status(fleet: Fleet, *posts: Post) -> None:
        print("\n== sync status (carec-edge sync status)")
        for post in posts:
            for queue in post.outbox(fleet).status():
                if queue.depth or queue.last_ack:
                    print(f"{post.node_id:<14} {queue.peer:<5} {queue.priority.value:<12} "
                          f"depth {queue.depth}, awaiting receiver {queue.awaiting_receiver}, "
                          f"dropped {queue.dropped}")  # fmt: skip
