"""The fleet agent in the real `carec-edge run`, its centre across a real mosquitto with mutual
TLS: a twin change applied after its grace period, one that leaves a device disconnected
rolled back (the file before restored, the service restarted on it), commands executed once
however often they arrive, health reports reaching the centre."""

from __future__ import annotations

import json
import signal
import subprocess
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from drivers.sim.pty_port import PtyPort
from edge.cli.demo_cmd import node_config
from edge.config import load_config
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import box_twin, peer_events
from provisioning.fleet import diagnostics
from provisioning.fleet.config_file import previous_path
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers, record_events
from sync.broker_process import MosquittoBroker
from sync.inbox import Effects, Inbox
from sync.messages import Message
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.transport import PeerSettings
from tests.fixtures.records import CONTRACT_EXAMPLE
from tests.integration.service_process import ServiceProcess
from tests.integration.test_service_runtime import (
    NotifySocket,
    StderrLines,
    notify_socket,
    processes,
    start_service,
)
from tests.provisioning.fleet_box import BOX, CENTRE, command, twin
from tests.sync.crossing import Post, start_broker, wait_until

pytestmark = pytest.mark.slow
__all__ = ["notify_socket", "processes"]  # fixtures of the service's runtime tests, used here
WAIT = 90.0  # a bound on waits that take seconds, generous for a loaded 2-core box


@dataclass
class Crossing:
    fleet: Fleet
    broker: MosquittoBroker
    centre: Post
    config: Path
    data_dir: Path
    port: PtyPort

    def send(self, payload: Message) -> None:
        self.centre.outbox.send(payload, BOX)
        assert self.centre.link is not None
        self.centre.link.notify()

    def received(self, message_type: str) -> list[dict[str, object]]:
        with self.centre.engine.connect() as conn:
            rows = conn.execute(
                select(peer_events.c.payload)
                .where(peer_events.c.type == message_type, peer_events.c.origin == BOX)
                .order_by(peer_events.c.created_at)
            ).scalars()
            return [json.loads(row) for row in rows]

    def twin_states(self) -> list[tuple[int, str]]:
        found = self.received("twin_reported")
        return [(int(str(r["desired_version"])), str(r["state"])) for r in found]


def centre_post(fleet: Fleet, directory: Path, port: int) -> Post:
    engine: Engine = open_database(directory)
    cache = ManifestCache(engine)
    outbox = Outbox(engine, Signer.load(fleet.nodes[CENTRE], CENTRE), [Route("*", "hub")])
    keep = Effects(record_events)
    applying = appliers(cache, outbox) | {
        "health": keep, "twin_reported": keep, "command_result": keep,
    }  # fmt: skip
    inbox = Inbox(
        engine, CENTRE, key_lookup(TrustStore.load(fleet.trust_store)), applying,
        acknowledge=acknowledger(outbox),
    )  # fmt: skip
    identity = fleet.nodes[CENTRE]
    settings = PeerSettings(
        name="hub", host="127.0.0.1", port=port, ca_file=fleet.ca_bundle,
        cert_file=identity / "node.crt", key_file=identity / "node.key",
    )  # fmt: skip
    return Post(CENTRE, engine, cache, outbox, inbox, settings).start()


@pytest.fixture
def crossing(tmp_path: Path) -> Iterator[Crossing]:
    fleet = make_fleet(tmp_path / "fleet", [BOX, CENTRE])
    broker = start_broker(fleet, tmp_path / "broker", nodes=(BOX, CENTRE))
    port = PtyPort(tmp_path / "scanner.tty")
    port.plug()
    text = node_config(fleet, BOX, broker.port, redeliver_after_s=5.0)
    text += f'\n[fleet]\nreport_to = "{CENTRE}"\nhealth_interval_s = 5\n'
    text += f'\n[[devices]]\nkind = "barcode"\nid = "scanner-1"\nport = "{port.path}"\nlane = "3"\n'
    config = tmp_path / "carec-edge.toml"
    config.write_text(text, encoding="utf-8")
    centre = centre_post(fleet, tmp_path / "centre", broker.port)
    try:
        yield Crossing(fleet, broker, centre, config, tmp_path / "box", port)
    finally:
        centre.stop()
        port.close()
        broker.stop()


def wait_for(service: ServiceProcess, condition: Callable[[], bool], what: str) -> None:
    """`wait_until`, failing with the service's latest log lines."""
    try:
        wait_until(condition, WAIT, what)
    except AssertionError as error:
        raise AssertionError(f"{error}\n{''.join(service.log[-60:])}") from None


def stopped(service: ServiceProcess) -> int:
    """`service.stop()`, failing with the service's latest log lines when it does not end."""
    try:
        return service.stop()
    except subprocess.TimeoutExpired:
        service.process.kill()
        raise AssertionError(
            "the service did not stop on SIGTERM:\n" + "".join(service.log[-80:])
        ) from None


def start(crossing: Crossing) -> ServiceProcess:
    service = ServiceProcess(crossing.config, crossing.data_dir)
    # The service's own line (edge.service), not the driver's: the service notes a device's
    # health a moment after its driver reports it, and a twin that came in between would find
    # the scanner not yet connected (so not missed when the change disconnects it).
    service.wait_logs(
        ("sync.subscribed",),
        ("edge.service device.health", "scanner-1", "health=connected"),
        timeout=WAIT,
    )
    return service


def test_a_twin_change_is_applied_after_a_healthy_grace_period(crossing: Crossing) -> None:
    with start(crossing) as service:
        crossing.send(twin(1, {"matching": {"min_score": 0.6}}, grace_s=10))
        service.wait_log("service.restarting", timeout=WAIT)
        service.wait_log("twin.applied", "version=1", timeout=WAIT)
        wait_for(service, lambda: (1, "applied") in crossing.twin_states(), "applied reported")
        wait_for(
            service,
            lambda: any(h["twin_version"] == 1 for h in crossing.received("health")),
            "a health report after the change",
        )
        assert stopped(service) == 0

    assert load_config(crossing.config).matching.min_score == 0.6
    assert previous_path(crossing.config).exists()
    assert crossing.twin_states() == [(1, "applying"), (1, "applied")]
    health = crossing.received("health")[-1]
    assert health["node"] == BOX
    devices = health["devices"]
    assert isinstance(devices, list)
    assert [d["id"] for d in devices] == ["scanner-1"]


def test_a_twin_change_that_disconnects_a_device_is_rolled_back(crossing: Crossing) -> None:
    before = crossing.config.read_text(encoding="utf-8")
    broken = [{"kind": "barcode", "id": "scanner-1", "port": "/dev/nonexistent-tty", "lane": "3"}]

    with start(crossing) as service:
        crossing.send(twin(1, {"devices": broken}, grace_s=10))
        service.wait_log("service.restarting", timeout=WAIT)
        service.wait_log("twin.rolled_back", "version=1", timeout=WAIT)
        service.wait_log("service.restarting", timeout=WAIT)
        service.wait_log("device.health", "scanner-1", "health=connected", timeout=WAIT)
        wait_for(service, lambda: (1, "rolled_back") in crossing.twin_states(), "rollback reported")
        assert stopped(service) == 0

    assert crossing.config.read_text(encoding="utf-8") == before
    engine = open_database(crossing.data_dir)
    with engine.connect() as conn:
        state, errors = conn.execute(select(box_twin.c.state, box_twin.c.errors)).one()
    assert state == "rolled_back"
    assert "scanner-1" in json.loads(errors)[0]
    (rolled_back,) = [r for r in crossing.received("twin_reported") if r["state"] == "rolled_back"]
    assert rolled_back["applied_version"] == 0


def test_a_command_delivered_twice_runs_once_and_diagnostics_hold_no_personal_data(
    crossing: Crossing,
) -> None:
    engine = open_database(crossing.data_dir)
    ManifestCache(engine).upsert([parse_manifest(CONTRACT_EXAMPLE)])
    engine.dispose()
    test = command("self_test")
    bundle = command("diagnostics")

    def results_of(command_id: str) -> list[dict[str, object]]:
        return [r for r in crossing.received("command_result") if r["command_id"] == command_id]

    with start(crossing) as service:
        crossing.send(test)
        crossing.send(test)  # again at once, in a new envelope: the centre's retry
        crossing.send(bundle)
        wait_for(service, lambda: len(results_of(test.command_id)) == 1, "the self-test's result")
        wait_for(service, lambda: len(results_of(bundle.command_id)) == 1, "the bundle")
        crossing.send(test)  # and once more after it ran: its first result comes back
        wait_for(service, lambda: len(results_of(test.command_id)) == 2, "the result again")
        others = [command(action) for action in ("reload_trust", "rotate_key", "reboot")]
        for each in others:
            crossing.send(each)
        ids = {c.command_id for c in others}
        wait_for(
            service,
            lambda: ids <= {str(r["command_id"]) for r in crossing.received("command_result")},
            "reload_trust, rotate_key and reboot's results",
        )
        restart = command("restart")
        crossing.send(restart)
        service.wait_log("service.restarting", timeout=WAIT)
        wait_for(service, lambda: len(results_of(restart.command_id)) == 1, "restart's result")
        assert stopped(service) == 0
    reload, rotate, reboot = (results_of(c.command_id)[0] for c in others)
    assert (reload["outcome"], rotate["outcome"]) == ("done", "done")
    assert str(rotate["output"]).startswith("-----BEGIN CERTIFICATE REQUEST-----")
    assert (reboot["outcome"], reboot["output"]) == ("refused", "reboot not allowed on this host")
    assert results_of(restart.command_id)[0]["outcome"] == "done"
    log = service.whole_log()

    results = crossing.received("command_result")
    tests = [r for r in results if r["command_id"] == test.command_id]
    assert len(tests) == 2
    assert tests[0]["output"] == tests[1]["output"]
    assert str(tests[0]["output"]).splitlines()[:3] == [
        "self-test passed", "store: ok", "device scanner-1 (barcode, lane 3): connected",
    ]  # fmt: skip
    assert log.count(f"command.executing command={test.command_id}") == 1
    (diag,) = [r for r in results if r["command_id"] == bundle.command_id]
    assert diag["outcome"] == "done"
    files = diagnostics.unpack(str(diag["attachment"]))
    assert "service.ready" in files["log.txt"]
    everything = "\n".join(files.values())
    driver = CONTRACT_EXAMPLE["driver"]
    assert driver["document_number"] not in everything
    assert driver["name"].split()[0] not in everything


def test_a_restart_tells_systemd_it_reloads_not_that_it_stops(
    crossing: Crossing, notify_socket: NotifySocket, processes: list[subprocess.Popen[str]]
) -> None:
    service = start_service(processes, crossing.data_dir, crossing.config, notify_socket)
    ready = notify_socket.wait_for("READY=1", WAIT, sender=service)
    StderrLines(service).wait_for("sync.subscribed", WAIT)

    crossing.send(command("restart"))

    reloading = notify_socket.wait_for("RELOADING=1", WAIT, after=ready, sender=service)
    ready_again = notify_socket.wait_for("READY=1", WAIT, after=reloading, sender=service)
    assert "STOPPING=1" not in notify_socket.received[ready:ready_again]
    assert service.poll() is None
    service.send_signal(signal.SIGTERM)
    assert service.wait(timeout=WAIT) == 0
    notify_socket.wait_for("STOPPING=1", WAIT, after=ready_again)
