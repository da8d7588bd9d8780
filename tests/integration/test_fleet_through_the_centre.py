"""Fleet control end to end, as it runs in a country: the real centre (`CentreService`, what
`carec-edge centre run` builds) and a real box (`carec-edge run`) on a real mosquitto with
mutual TLS and the topic ACL, the box's link through a TCP proxy that can cut it.

- A command issued while the box is cut off reaches it when the link is back and is done
  once; one that expired meanwhile is refused as expired, and neither is lost.
- A forged command (from a node that is not the box's centre, or claiming the centre's name
  with another key) is quarantined by the box and nothing runs.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from sqlalchemy import create_engine, select, text

from centre.config import load_centre_config
from centre.service import CentreService
from centre.store.schema import fleet_commands
from edge.cli.demo_centres import centre_access
from edge.cli.demo_cmd import node_config
from edge.store.schema import box_commands, quarantine
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker
from sync.envelope import Envelope, seal
from sync.messages import CommandMessage, new_message_id
from sync.outbox import Signer
from sync.topics import topic_for
from tests.integration.service_process import ServiceProcess
from tests.sync.crossing import wait_until
from tests.tcp_proxy import TcpProxy

pytestmark = pytest.mark.slow

CENTRE, BOX, OTHER = "KZ-CIS", "KZ-NURZHOLY-1", "KZ-KORGAS-1"
WAIT = 90.0  # a bound on waits that take seconds, generous for a loaded 2-core machine


@dataclass
class Country:
    fleet: Fleet
    broker: MosquittoBroker
    proxy: TcpProxy
    centre: CentreService
    centre_config: Path
    box_config: Path
    box_data: Path

    def centre_fleet(self, *args: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "edge.cli", "centre", "fleet", "--config",
             str(self.centre_config), "--operator", "fleet-operator", *args],
            capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        return done.stdout

    def command(self, action: str, ttl_minutes: float) -> str:
        out = self.centre_fleet("command", BOX, "--action", action,
                                "--ttl-minutes", str(ttl_minutes))  # fmt: skip
        return out.split()[-1]

    def at_centre(self, sql: str, **params: object) -> list[tuple[object, ...]]:
        with self.centre.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]

    def at_box(self, query: object) -> list[tuple[object, ...]]:
        engine = create_engine(f"sqlite:///{self.box_data / 'carec-edge.sqlite3'}")
        try:
            with engine.connect() as conn:
                return [tuple(row) for row in conn.execute(query)]  # type: ignore[call-overload]
        finally:
            engine.dispose()


@pytest.fixture
def country(tmp_path: Path) -> Iterator[Country]:
    fleet = make_fleet(tmp_path / "fleet", [CENTRE, BOX, OTHER])
    tls = TlsListener(port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert,
                      keyfile=fleet.broker_key)  # fmt: skip
    access = (centre_access(CENTRE), TopicAccess.for_node(BOX), TopicAccess.for_node(OTHER))
    broker = MosquittoBroker(BrokerConfig(tls=tls, access=access), tmp_path / "broker").start()
    proxy = TcpProxy(broker.port).start()
    centre_config = tmp_path / "centre.toml"
    centre_config.write_text(
        f'[centre]\nid = "{CENTRE}"\ndatabase = "sqlite:///{tmp_path / "centre.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes[CENTRE]}"\n'
        f'trust_store = "{fleet.trust_store}"\n[api]\nport = 0\n'
        f'[broker]\nhost = "127.0.0.1"\nport = {broker.port}\nca_file = "{fleet.ca_bundle}"\n'
        "redeliver_after_s = 5.0\n[fleet]\ncheck_every_s = 5\n",
        encoding="utf-8",
    )  # fmt: skip
    centre = CentreService.build(load_centre_config(centre_config))
    # The box is enrolled here (its certificate came from the fleet's CA, as enrolment does).
    with centre.engine.begin() as conn:
        conn.execute(
            text("INSERT INTO fleet_boxes (node_id, serial, state, created_at) "
                 "VALUES (:node, 'SERIAL-1', 'enrolled', :now)"),
            {"node": BOX, "now": utcnow()},
        )  # fmt: skip
    centre.start()
    box_config = tmp_path / "box.toml"
    box_config.write_text(
        node_config(fleet, BOX, proxy.port, redeliver_after_s=5.0)
        + f'\n[fleet]\nreport_to = "{CENTRE}"\nhealth_interval_s = 5\n',
        encoding="utf-8",
    )
    try:
        yield Country(fleet, broker, proxy, centre, centre_config, box_config, tmp_path / "box")
    finally:
        centre.close()
        proxy.stop()
        broker.stop()


def start_box(country: Country) -> ServiceProcess:
    service = ServiceProcess(country.box_config, country.box_data)
    service.wait_logs(("sync.subscribed",), timeout=WAIT)
    return service


def wait_for(service: ServiceProcess, condition: object, what: str) -> None:
    try:
        wait_until(condition, WAIT, what)  # type: ignore[arg-type]
    except AssertionError as error:
        raise AssertionError(f"{error}\n{''.join(service.log[-60:])}") from None


def test_a_command_sent_during_an_outage_is_done_once_after_it_and_an_expired_one_refused(
    country: Country,
) -> None:
    with start_box(country) as box:
        wait_for(box, lambda: country.at_centre("SELECT 1 FROM fleet_health"), "a health report")
        [(report,)] = country.at_centre("SELECT report FROM fleet_health")
        health = json.loads(str(report))
        assert health["node"] == BOX
        assert health["model_version"].startswith("detector ")  # which plate weights it runs
        country.proxy.cut()
        assert country.proxy.stats().dropped >= 1  # the box's link was open, and is now cut
        self_test = country.command("self_test", 60)
        restart = country.command("restart", 10 / 60)  # the shortest a command may live
        with country.centre.engine.connect() as conn:
            expires_at = conn.execute(
                select(fleet_commands.c.expires_at).where(fleet_commands.c.command_id == restart)
            ).scalar_one()
        wait_until(lambda: utcnow() > expires_at, WAIT, "the restart command's expiry")
        country.proxy.heal()

        def finished() -> dict[object, object]:
            rows = country.at_centre("SELECT command_id, state FROM fleet_commands")
            return {command: state for command, state in rows if state != "sent"}

        wait_for(box, lambda: len(finished()) == 2, "both commands' results at the centre")
        assert finished() == {self_test: "done", restart: "expired"}
        [(output,)] = country.at_centre(
            "SELECT output FROM fleet_commands WHERE command_id = :id", id=self_test
        )
        assert "self-test" in str(output)
        # Each was taken once on the box, and the expired restart did not restart the service.
        ran = country.at_box(select(box_commands.c.command_id, box_commands.c.state))
        assert sorted(ran) == sorted([(self_test, "done"), (restart, "expired")])
        assert "service.restarting" not in "".join(box.log)


def publish(fleet: Fleet, node: str, topic: str, payload: bytes, port: int) -> None:
    """One QoS 1 message from `node`'s own certificate, as any enrolled box could send."""
    identity = fleet.nodes[node]
    client = mqtt.Client(CallbackAPIVersion.VERSION2, client_id=f"{node}-forger",
                         protocol=mqtt.MQTTv5)  # fmt: skip
    client.tls_set(ca_certs=str(fleet.ca_bundle), certfile=str(identity / "node.crt"),
                   keyfile=str(identity / "node.key"))  # fmt: skip
    client.connect("127.0.0.1", port)
    client.loop_start()
    try:
        client.publish(topic, payload, qos=1).wait_for_publish(timeout=30)
    finally:
        client.disconnect()
        client.loop_stop()


def forged(origin: str, signer_of: str, fleet: Fleet) -> bytes:
    now = utcnow()
    command = CommandMessage(
        command_id=new_message_id(), node=BOX, action="restart", issued_by="nobody",
        issued_at=now, expires_at=now + dt.timedelta(hours=1),
    )  # fmt: skip
    envelope = Envelope.new(command, origin=origin, destination=BOX, seq=1)
    signer = Signer.load(fleet.nodes[signer_of], signer_of)
    return seal(envelope, signer.private_key, origin, signer.certificate_pem)


def test_a_forged_command_is_quarantined_by_the_box_and_nothing_runs(country: Country) -> None:
    with start_box(country) as box:
        # Another box of the country, with its own valid certificate, commands this one.
        publish(country.fleet, OTHER, topic_for(OTHER, BOX, "command"),
                forged(OTHER, OTHER, country.fleet), country.broker.port)  # fmt: skip
        # The same box claims to be the centre, signing with its own key.
        publish(country.fleet, OTHER, topic_for(OTHER, BOX, "command"),
                forged(CENTRE, OTHER, country.fleet), country.broker.port)  # fmt: skip

        def quarantined() -> list[tuple[object, ...]]:
            columns = quarantine.c.origin, quarantine.c.reason, quarantine.c.detail
            return country.at_box(select(*columns).order_by(quarantine.c.id))

        wait_for(box, lambda: len(quarantined()) == 2, "both forged commands in quarantine")
        (origin, reason, detail), (_, claimed, why) = quarantined()
        # Signed by a node of the fleet, but commands come from the box's centre only.
        assert (origin, reason) == (OTHER, "not_applicable")
        assert f"this box takes them from {CENTRE} only" in str(detail)
        # The centre's name with another node's certificate: no key of the centre's signed it.
        assert claimed == "unknown_origin"
        assert f"the certificate is of {OTHER}, not {CENTRE}" in str(why)
        assert country.at_box(select(box_commands.c.command_id)) == []
        # The box goes on: a real command from its centre is still done.
        command = country.command("self_test", 60)
        wait_for(box, lambda: country.at_centre(
            "SELECT 1 FROM fleet_commands WHERE command_id = :id AND state = 'done'", id=command
        ), "the centre's own command done")  # fmt: skip
