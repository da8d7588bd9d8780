"""`carec-edge demo` (what `make demo` runs): a road crossing of two posts on one machine.

A real mosquitto with mutual TLS and the topic ACL; the Kazakh exit post (KZ-NURZHOLY-1) and
the Kyrgyz entry post (KG-TORUGART-1), each a `carec-edge run` process with its own data
directory and identity from a small fleet PKI; and the Kazakh customs system (KZ-CIS),
simulated, sending the day's signed pre-arrival records to the exit post.

The day's trucks reach the exit post with camera-like noise on their plates and are matched
there. Each truck that leaves sends an exit confirmation to the entry post, where it becomes
pre-arrival information; the trucks then arrive at the entry post, are read again, and are
matched against what came from the other side of the border. Some of them drive past the entry
post's lane camera (a simulated MJPEG camera, `drivers.sim.live_lane`) and are read by the post
itself: presence trigger, plate worker, voting, the lane's arrival and the matcher.

After the day's summary the crossing keeps running (both posts with their kiosks, the broker,
trucks arriving at each post's camera at a slow pace) and the kiosk URLs and demo logins are
printed, until Ctrl-C stops every process. `--no-serve` (the tests' form) stops after the summary.
Each post's data directory is made here and carries the demo's marker (`edge.officers`): the
demo officers, whose PINs are public, go nowhere else.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.sim.live_lane import LiveLane
from edge.cli.context import CliContext
from edge.cli.demo_lane import (
    LiveTraffic,
    PostLane,
    camera_device,
    camera_trucks,
    drive_through,
)
from edge.config import MatchingConfig
from edge.demo import Outcome, describe, replay, summary
from edge.manifest import Manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher
from edge.officers import (
    DEMO_OFFICERS,
    OfficerStore,
    is_demo_data_dir,
    mark_demo_data_dir,
    seed_demo_officers,
)
from edge.plates import canonical_key
from edge.store import open_database
from edge.synthetic import Scenario, arrivals, generate_day
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker, free_port
from sync.inbox import Inbox
from sync.messages import ExitConfirmationMessage, ManifestMessage, Message
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.transport import PeerLink, PeerSettings

CIS, EXIT, ENTRY = "KZ-CIS", "KZ-NURZHOLY-1", "KG-TORUGART-1"
CAMERA_TRUCKS = 12
TIMEOUT_S = 120.0
PACE_S = 30.0  # while serving: seconds between one truck leaving a lane and the next arriving


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo", help="a crossing of two posts and a customs system, on this machine"
    )
    parser.add_argument("--trucks", type=int, default=150, help="trucks in the day (150)")
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--dir", type=Path, help="keep everything here (default: a temp dir)")
    parser.add_argument("--verbose", action="store_true", help="print every truck")
    parser.add_argument(
        "--no-serve", dest="serve", action="store_false",
        help="stop after the day's summary (for tests); by default the crossing keeps running, "
        "with both kiosks, until Ctrl-C",
    )  # fmt: skip
    parser.add_argument(
        "--kiosk-port", type=int, default=8080, metavar="PORT",
        help="the exit post's kiosk port; the entry post's is the next (default 8080; "
        "0, or a port in use: any free one)",
    )  # fmt: skip
    parser.add_argument(
        "--pace", type=float, default=PACE_S, metavar="SECONDS",
        help=f"while serving, seconds between trucks at a lane (default {PACE_S:g})",
    )  # fmt: skip
    parser.add_argument(
        "--camera-trucks", type=int, default=CAMERA_TRUCKS, metavar="N",
        help=f"trucks that drive past the entry post's camera before the summary ends "
        f"(default {CAMERA_TRUCKS})",
    )  # fmt: skip
    parser.set_defaults(handler=demo_command)


@dataclass(frozen=True)
class Options:
    trucks: int
    seed: int
    verbose: bool
    serve: bool
    kiosk_port: int
    pace_s: float
    camera_trucks: int = CAMERA_TRUCKS


def demo_command(args: argparse.Namespace, _context: CliContext) -> int:
    if args.trucks < 1:
        print("carec-edge: --trucks must be at least 1", file=sys.stderr)
        return 2
    if not 0 <= args.kiosk_port <= 65534 or not 1.0 <= args.pace <= 3600.0:
        print("carec-edge: --kiosk-port must be 0-65534, --pace 1-3600 s", file=sys.stderr)
        return 2
    if not 0 <= args.camera_trucks <= 100:
        print("carec-edge: --camera-trucks must be 0-100", file=sys.stderr)
        return 2
    options = Options(
        args.trucks, args.seed, args.verbose, args.serve, args.kiosk_port, args.pace,
        args.camera_trucks,
    )  # fmt: skip
    try:
        if args.dir:
            args.dir.mkdir(parents=True, exist_ok=True)
            return Crossing(args.dir, options).run()
        with tempfile.TemporaryDirectory(prefix="carec-edge-demo-") as tmp:
            return Crossing(Path(tmp), options).run()
    except NotDemoDirectoryError as error:
        print(f"carec-edge demo: {error}", file=sys.stderr)
        return 2


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


def _interrupted(_signum: int, _frame: object) -> None:
    """Ctrl-C or SIGTERM: stop the crossing. Even when started with SIGINT ignored (a background
    job of a script); further signals are ignored, so that nothing cuts the shutdown short."""
    for sig in STOP_SIGNALS:
        signal.signal(sig, signal.SIG_IGN)
    raise KeyboardInterrupt


class NotDemoDirectoryError(Exception):
    """A post's data directory exists and the demo did not make it."""


def kiosk_port(wanted: int) -> int:
    """`wanted` when nothing listens there, else any free port."""
    if wanted:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            try:
                sock.bind(("127.0.0.1", wanted))
            except OSError:
                return free_port()
            return wanted
    return free_port()


def wait_until(condition: Callable[[], bool], what: str) -> None:
    deadline = time.monotonic() + TIMEOUT_S
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError(f"gave up waiting for {what}")
        pause.wait(0.1)


class Post:
    """One post's `carec-edge run`, its log in a file, and a view of its store."""

    def __init__(
        self,
        root: Path,
        fleet: Fleet,
        node_id: str,
        port: int,
        *,
        camera: LiveLane | None = None,
        kiosk: int | None = None,
    ) -> None:
        self.node_id = node_id
        self.data_dir = root / node_id
        if self.data_dir.exists() and not is_demo_data_dir(self.data_dir):
            raise NotDemoDirectoryError(
                f"{self.data_dir} exists and was not made by the demo; give --dir an empty "
                "directory, or one an earlier demo used"
            )
        mark_demo_data_dir(self.data_dir)
        self.engine = open_database(self.data_dir)
        self.cache = ManifestCache(self.engine)
        self.kiosk_url = f"http://127.0.0.1:{kiosk}/" if kiosk else None
        if kiosk:
            seed_demo_officers(OfficerStore(self.engine))
        self.config = root / f"{node_id}.toml"
        text = node_config(fleet, node_id, port, kiosk_port=kiosk)
        if camera is not None:
            text += camera_device(camera.url)
        self.config.write_text(text, encoding="utf-8")
        self.log_path = root / f"{node_id}.log"
        self.lane = PostLane(node_id, self.engine, self.log_path, camera) if camera else None
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "edge.cli", "--config", str(self.config),
                   "--data-dir", str(self.data_dir), "run"]  # fmt: skip
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(command, stderr=log, stdout=log, env=os.environ.copy())
        wait_until(
            lambda: b"sync.subscribed" in self.log_path.read_bytes(), f"{self.node_id}'s link"
        )
        if self.kiosk_url:
            wait_until(
                lambda: b"kiosk.serving" in self.log_path.read_bytes(), f"{self.node_id}'s kiosk"
            )

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=30)

    def outbox(self, fleet: Fleet) -> Outbox:
        signer = Signer.load(fleet.nodes[self.node_id], self.node_id)
        return Outbox(self.engine, signer, [Route("*", "hub")])


def node_config(
    fleet: Fleet,
    node_id: str,
    port: int,
    redeliver_after_s: float = 10.0,
    *,
    kiosk_port: int | None = None,
) -> str:
    """The config file of a fleet node whose one peer is the broker on 127.0.0.1:`port`; its
    kiosk on 127.0.0.1:`kiosk_port`, or none."""
    kiosk = f"port = {kiosk_port}" if kiosk_port else "enabled = false"
    return f"""[node]
id = "{node_id}"

[logging]
level = "INFO"

[kiosk]
{kiosk}

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
    def __init__(self, root: Path, options: Options) -> None:
        self.root = root
        self.options = options
        self.trucks = options.trucks
        self.rng = random.Random(options.seed)
        self.show = None if options.verbose else 15
        self.live: dict[str, list[Manifest]] = {}  # per post, the trucks to send while serving
        self.exit_records: list[Manifest] = []  # the day's records, sent to the exit post

    def run(self) -> int:
        print(f"== a crossing of two posts, in {self.root}")
        fleet = make_fleet(self.root / "fleet", [CIS, EXIT, ENTRY])
        print(f"fleet PKI: a CA each for KZ and KG; identities for {CIS}, {EXIT}, {ENTRY}")
        access = tuple(TopicAccess.for_node(n) for n in (CIS, EXIT, ENTRY))
        tls = TlsListener(port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert,
                          keyfile=fleet.broker_key)  # fmt: skip
        serve = self.options.serve
        previous = {sig: signal.signal(sig, _interrupted) for sig in STOP_SIGNALS}
        try:
            with contextlib.ExitStack() as stack:
                broker = stack.enter_context(
                    MosquittoBroker(BrokerConfig(tls=tls, access=access), self.root / "broker")
                )
                print(f"mosquitto on 127.0.0.1:{broker.port}: mutual TLS, each node writes "
                      "only under its own topics")  # fmt: skip
                # The entry post's lane camera always; the exit post's only to serve the kiosk.
                entry_camera = stack.enter_context(LiveLane(seed=1))
                exit_camera = stack.enter_context(LiveLane(seed=2)) if serve else None
                exit_kiosk = kiosk_port(self.options.kiosk_port) if serve else None
                entry_kiosk = kiosk_port(exit_kiosk + 1 if exit_kiosk else 0) if serve else None
                exit_post = Post(self.root, fleet, EXIT, broker.port, camera=exit_camera,
                                 kiosk=exit_kiosk)  # fmt: skip
                entry_post = Post(self.root, fleet, ENTRY, broker.port, camera=entry_camera,
                                  kiosk=entry_kiosk)  # fmt: skip
                cis = self._cis(fleet, broker.port)
                for stop in (exit_post.stop, entry_post.stop, cis.stop):
                    stack.callback(stop)  # run in reverse: the CIS, then the posts
                exit_post.start()
                entry_post.start()
                print(f"{EXIT} and {ENTRY} are running (carec-edge run; logs in {self.root})")
                cis.start()
                self._play(fleet, cis, exit_post, entry_post)
                if serve:
                    self._serve(exit_post, entry_post)
        except KeyboardInterrupt:
            print("\nstopped: every post, the broker and the cameras are down")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
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
        self.exit_records = records
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
        self._camera_lane(entry_post, later)
        self._status(fleet, exit_post, entry_post)

    def _camera_lane(self, post: Post, records: Sequence[Manifest]) -> None:
        """Some of the trucks again, this time past the post's lane camera: the post reads
        their plates from its frames and matches them on what it read alone."""
        lane = post.lane
        trucks = camera_trucks(records, MatchingConfig())
        if lane is None or not trucks:
            return
        count = self.options.camera_trucks
        self.live[post.node_id] = trucks[count:] or trucks
        trucks = trucks[:count]
        if not trucks:
            return
        print(f"\n== {len(trucks)} of them drive past {post.node_id}'s lane camera (a simulated "
              "camera: plates with dirt, blur and night light): the post reads them through its "
              "presence trigger, plate worker and vote, and matches the arrival on the plate "
              "alone")  # fmt: skip
        wait_until(lane.ready, f"{post.node_id}'s camera and plate reader")
        outcomes = []
        for record in trucks:
            outcome = drive_through(lane, record, self.rng, self.rng.uniform(0.0, 0.7))
            outcomes.append(outcome)
            got = outcome.arrival.best_ref or "no record"
            print(f"  {record.transport.plate:<14} read {outcome.read:<14} "
                  f"(first read {outcome.first_read_s:4.1f} s) -> {got}")  # fmt: skip
        lane.close_open("demo")
        exact = sum(canonical_key(o.read) == canonical_key(o.record.transport.plate)
                    for o in outcomes)  # fmt: skip
        right = sum(o.matched for o in outcomes)
        firsts = sorted(o.first_read_s for o in outcomes)
        print(f"read exactly {exact}/{len(trucks)}, matched to their record {right}/{len(trucks)}, "
              f"median {firsts[len(firsts) // 2]:.1f} s from arrival to first read")  # fmt: skip

    def _serve(self, exit_post: Post, entry_post: Post) -> None:
        """Keep the crossing running, trucks arriving at each post's camera, until Ctrl-C."""
        print("\n== the crossing keeps running: open a kiosk and decide on the trucks")
        for post, role in ((exit_post, "exit post"), (entry_post, "entry post")):
            print(f"kiosk of {post.node_id} ({role}): {post.kiosk_url}")
        print("demo logins (id / badge / PIN):")
        for officer in DEMO_OFFICERS:
            print(f"  {officer.id:<16} {officer.badge}  {officer.pin}  ({officer.role.value})")
        print(
            f"a truck arrives at each post's lane 1 about every {self.options.pace_s:g} s, "
            "once the officer has decided on the one before. Ctrl-C stops everything."
        )
        self.live.setdefault(EXIT, camera_trucks(self.exit_records, MatchingConfig()))
        traffic = [
            LiveTraffic(
                post.lane,
                self.live.get(post.node_id, []),
                self.rng,
                pace_s=self.options.pace_s,
                kiosk_url=post.kiosk_url or "",
                say=self._say(post.node_id),
            )
            for post in (exit_post, entry_post)
            if post.lane is not None
        ]
        tick = threading.Event()
        while True:
            for lane in traffic:
                lane.step()
            for post in (exit_post, entry_post):
                if post.process is not None and post.process.poll() is not None:
                    print(f"{post.node_id} stopped (status {post.process.returncode}); see "
                          f"{post.log_path}", file=sys.stderr)  # fmt: skip
                    return
            tick.wait(0.5)

    @staticmethod
    def _say(node_id: str) -> Callable[[str], None]:
        def say(text: str) -> None:
            print(f"{utcnow():%H:%M:%S} {node_id} lane 1: {text}", flush=True)

        return say

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
