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
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from drivers.sim.live_lane import LiveLane
from edge.cli.context import CliContext
from edge.cli.demo_centres import (
    CN_CIS,
    DEMO_AUDITOR,
    DEMO_AUDITOR_PASSWORD,
    DEMO_FLEET,
    DEMO_FLEET_PASSWORD,
    DEMO_OPERATOR,
    DEMO_OPERATOR_PASSWORD,
    ENTRY_OFFICE,
    KG_CIS,
    KG_ROUTING,
    KZ_CIS,
    KZ_ROUTING,
    Centre,
    centre_access,
    centre_config,
    cie_partner,
    drop_files,
    fetch_events,
    sie_partner,
    submit_through_api,
)
from edge.cli.demo_fleet import (
    box_config,
    command_and_twin,
    enrol_by_operator,
    enrol_pre_registered,
    fleet_section,
    show_fleet,
)
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
from edge.store.database import DATABASE_NAME
from edge.synthetic import Scenario, arrivals, generate_day
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker, free_port
from sync.messages import ExitConfirmationMessage, Message
from sync.outbox import Outbox, Route, Signer

EXIT, ENTRY = "KZ-NURZHOLY-1", "KG-TORUGART-1"
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


def _counted(outcomes: dict[str, int]) -> str:
    return ", ".join(f"{n} {outcome}" for outcome, n in sorted(outcomes.items()))


def _refs(post: Post) -> set[str]:
    import sqlite3

    with sqlite3.connect(post.data_dir / DATABASE_NAME) as db:
        return {ref for (ref,) in db.execute("SELECT ref FROM manifests")}


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
        node_id: str,
        *,
        camera: LiveLane | None = None,
        kiosk: int | None = None,
    ) -> None:
        self.node_id = node_id
        # Empty until enrolment: the centre's answer fills it (and the config's peers).
        self.identity_dir = root / "fleet" / "nodes" / node_id
        trust_store = self.identity_dir / "trust" / "trust.toml"
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
        text = box_config(node_id, self.identity_dir, trust_store, kiosk_port=kiosk)
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

    def outbox(self) -> Outbox:
        signer = Signer.load(self.identity_dir, self.node_id)
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
        print(f"== a crossing of two posts and three national centres, in {self.root}")
        fleet = make_fleet(self.root / "fleet", [KZ_CIS, KG_CIS, CN_CIS])
        print(f"fleet PKI: a CA each for KZ, KG and CN, and the centres' identities; the posts "
              f"{EXIT} and {ENTRY} start with none and enrol")  # fmt: skip
        serve = self.options.serve
        previous = {sig: signal.signal(sig, _interrupted) for sig in STOP_SIGNALS}
        try:
            with contextlib.ExitStack() as stack:
                kz_broker = stack.enter_context(self._broker(fleet, "KZ", (
                    centre_access(KZ_CIS), TopicAccess.for_node(EXIT),
                    TopicAccess.for_node(KG_CIS))))  # fmt: skip
                kg_broker = stack.enter_context(self._broker(fleet, "KG", (
                    centre_access(KG_CIS), TopicAccess.for_node(ENTRY),
                    TopicAccess.for_node(KZ_CIS))))  # fmt: skip
                print(f"mosquitto for KZ on 127.0.0.1:{kz_broker.port} and for KG on "
                      f"127.0.0.1:{kg_broker.port}: mutual TLS, each node writes only under "
                      "its own topics")  # fmt: skip
                # The entry post's lane camera always; the exit post's only to serve the kiosk.
                entry_camera = stack.enter_context(LiveLane(seed=1))
                exit_camera = stack.enter_context(LiveLane(seed=2)) if serve else None
                exit_kiosk = kiosk_port(self.options.kiosk_port) if serve else None
                entry_kiosk = kiosk_port(exit_kiosk + 1 if exit_kiosk else 0) if serve else None
                exit_post = Post(self.root, EXIT, camera=exit_camera, kiosk=exit_kiosk)
                entry_post = Post(self.root, ENTRY, camera=entry_camera, kiosk=entry_kiosk)
                centres = self._centres(fleet, kz_broker.port, kg_broker.port, serve)
                for stop in (exit_post.stop, entry_post.stop, *(c.stop for c in centres)):
                    stack.callback(stop)  # run in reverse: the centres, then the posts
                for centre in centres:
                    centre.start(wait_until, linked=centre.node != CN_CIS)
                print(f"{KZ_CIS}, {KG_CIS} and {CN_CIS} are running (carec-edge centre run): "
                      "KZ-KG a CIE link, KZ-CN a SIE link (bundles, a review queue)")  # fmt: skip
                kz, kg, _ = centres
                print("\n== the posts join their countries' fleets (carec-edge fleet enrol)")
                enrol_pre_registered(exit_post.config, kz, EXIT)
                enrol_by_operator(entry_post.config, kg, ENTRY)
                exit_post.start()
                entry_post.start()
                print(f"{EXIT} and {ENTRY} are running (carec-edge run; logs in {self.root})")
                show_fleet(((kz, EXIT), (kg, ENTRY)), wait_until)
                self._play(centres, exit_post, entry_post)
                command_and_twin(kz, EXIT, wait_until)
                if serve:
                    self._serve(exit_post, entry_post, centres)
        except KeyboardInterrupt:
            print("\nstopped: every post, centre and broker, and the cameras are down")
            return 0
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        return 0

    def _broker(
        self, fleet: Fleet, country: str, access: tuple[TopicAccess, ...]
    ) -> MosquittoBroker:
        tls = TlsListener(port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert,
                          keyfile=fleet.broker_key)  # fmt: skip
        return MosquittoBroker(
            BrokerConfig(tls=tls, access=access), self.root / f"broker-{country}"
        )

    def _centres(self, fleet: Fleet, kz_port: int, kg_port: int, serve: bool) -> list[Centre]:
        kz_to_cn, cn_to_kz = self.root / "sie" / "KZ-to-CN", self.root / "sie" / "CN-to-KZ"
        ports = {node: free_port() for node in (KZ_CIS, KG_CIS, CN_CIS)}
        # The consoles of the KZ centre and of CN's (its review queue), when serving.
        consoles = {node: free_port() for node in (KZ_CIS, CN_CIS)} if serve else {}
        configs = {
            KZ_CIS: centre_config(
                self.root, fleet, KZ_CIS, broker=kz_port, api_port=ports[KZ_CIS],
                routing=KZ_ROUTING, drop=True, console=consoles.get(KZ_CIS),
                fleet_section=fleet_section(fleet.root / "ca-KZ", kz_port),
                partners=[cie_partner(KG_CIS, kg_port, fleet),
                          sie_partner(CN_CIS, kz_to_cn, cn_to_kz)],
            ),
            KG_CIS: centre_config(
                self.root, fleet, KG_CIS, broker=kg_port, api_port=ports[KG_CIS],
                routing=KG_ROUTING, partners=[cie_partner(KZ_CIS, kz_port, fleet)],
                fleet_section=fleet_section(fleet.root / "ca-KG", kg_port),
            ),
            CN_CIS: centre_config(
                self.root, fleet, CN_CIS, broker=None, api_port=ports[CN_CIS], routing={},
                console=consoles.get(CN_CIS),
                partners=[sie_partner(KZ_CIS, cn_to_kz, kz_to_cn)],
            ),
        }  # fmt: skip
        return [
            Centre(self.root, node, configs[node], ports[node], consoles.get(node))
            for node in configs
        ]

    def _play(self, centres: list[Centre], exit_post: Post, entry_post: Post) -> None:
        kz, kg, cn = centres
        day = utcnow().date()
        records = generate_day(self.rng, day, self.trucks)
        self.exit_records = records
        start = time.perf_counter()
        by_api, in_files = records[: len(records) // 2], records[len(records) // 2 :]
        outcomes = submit_through_api(kz, by_api)
        files = drop_files(kz, in_files)
        wait_until(lambda: exit_post.cache.count() >= len(records), "the CIS's records")
        print(f"\n== the KZ customs system submitted {len(records)} pre-arrival records to "
              f"{KZ_CIS}: {len(by_api)} through its API ({_counted(outcomes)}), "
              f"{len(in_files)} in its drop directory ({', '.join(files)})")  # fmt: skip
        print(f"{KZ_CIS} signed and routed them: {len(records)} to {EXIT} (applied there in "
              f"{time.perf_counter() - start:.1f} s)")  # fmt: skip
        to_kg = [r for r in records if ENTRY_OFFICE in (r.office_destination, r.office_border)]
        wait_until(lambda: kg.count("SELECT count(*) FROM cis_records") >= len(to_kg),
                   f"{KG_CIS}'s records")  # fmt: skip
        print(f"{KZ_CIS} -> {KG_CIS} (CIE, real time): the {len(to_kg)} records for Kyrgyz "
              f"offices, routed on to {ENTRY}")  # fmt: skip

        settings = MatchingConfig()
        at_exit = arrivals(self.rng, records, window=settings)
        exit_post.cache.forget_index()  # the service wrote; this view reads afresh
        replayed = replay(Matcher(exit_post.cache, settings), at_exit)
        self._report(f"trucks at the exit post {EXIT}", replayed)

        leaving = self._leaving(replayed)
        start = time.perf_counter()
        confirmations: list[tuple[Message, str, str | None]] = [
            (ExitConfirmationMessage(record=record, exited_at=utcnow(),
                                     seals=record.seals, exit_node=EXIT), ENTRY, None)
            for record in leaving
        ]  # fmt: skip
        exit_post.outbox().send_many(confirmations)
        refs = {record.ref for record in leaving}
        wait_until(lambda: refs <= _refs(entry_post), "the exit confirmations")
        print(f"\n== {EXIT} sent {len(leaving)} exit confirmations to {ENTRY}, through "
              f"{KZ_CIS} (custody, relay) and {KG_CIS} (relay), each still signed by {EXIT}: "
              f"applied there as pre-arrival information in "
              f"{time.perf_counter() - start:.1f} s")  # fmt: skip

        hour = dt.timedelta(hours=1)  # the road between the posts
        later = [
            r.model_copy(update={"expected_arrival": r.expected_arrival + hour}) for r in leaving
        ]
        at_entry = arrivals(self.rng, later, fault_rate=0.05, window=settings)
        entry_post.cache.forget_index()
        entry_outcomes = replay(Matcher(entry_post.cache, settings), at_entry)
        self._report(f"the same trucks at the entry post {ENTRY}", entry_outcomes)
        self._camera_lane(entry_post, later)
        self._centre_summary(kz, cn, records)
        self._status(exit_post, entry_post)

    def _centre_summary(self, kz: Centre, cn: Centre, records: Sequence[Manifest]) -> None:
        to_cn = [r for r in records if "CN" in (r.office_departure or "")[:2]
                 or "CN" in (r.office_destination or "")[:2]]  # fmt: skip
        held = "SELECT count(*) FROM partner_review WHERE state = 'pending'"
        wait_until(lambda: cn.count(held) >= len(to_cn), f"{CN_CIS}'s review queue")
        events = fetch_events(kz)
        kinds = Counter(str(event["type"]) for event in events)
        counted = ", ".join(f"{n} {kind}" for kind, n in sorted(kinds.items()))
        print(f"\n== the centres: {KZ_CIS}'s event feed for its CIS holds {len(events)} events "
              f"({counted}); "
              f"{CN_CIS} holds {cn.count(held)} records from {KZ_CIS} in its SIE review queue, "
              "waiting for an operator")  # fmt: skip

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

    def _serve(self, exit_post: Post, entry_post: Post, centres: Sequence[Centre]) -> None:
        """Keep the crossing running, trucks arriving at each post's camera, until Ctrl-C."""
        print("\n== the crossing keeps running: open a kiosk and decide on the trucks")
        for post, role in ((exit_post, "exit post"), (entry_post, "entry post")):
            print(f"kiosk of {post.node_id} ({role}): {post.kiosk_url}")
        for centre in centres:
            if centre.console_url:
                print(f"console of {centre.node}: {centre.console_url}")
        print(f"console logins: {DEMO_OPERATOR} / {DEMO_OPERATOR_PASSWORD} (records; the SIE "
              f"review queue is on {CN_CIS}'s console), {DEMO_FLEET} / {DEMO_FLEET_PASSWORD} "
              f"(the fleet pages, /fleet), {DEMO_AUDITOR} / {DEMO_AUDITOR_PASSWORD} (reads "
              "the fleet and the audit)")  # fmt: skip
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
    def _status(*posts: Post) -> None:
        print("\n== sync status (carec-edge sync status)")
        for post in posts:
            for queue in post.outbox().status():
                if queue.depth or queue.last_ack:
                    print(f"{post.node_id:<14} {queue.peer:<5} {queue.priority.value:<12} "
                          f"depth {queue.depth}, awaiting receiver {queue.awaiting_receiver}, "
                          f"dropped {queue.dropped}")  # fmt: skip
