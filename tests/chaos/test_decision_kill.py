"""Chaos: the post is killed (kill -9, by the fault point CAREC_EDGE_FAULTS names, at an exact
line, no sleeps) while an officer's decision is being stored: inside its transaction, right
after its commit, or right after a commit the outbox refused. After the restart every stored
decision has its messages in the outbox exactly once, and a decision that was not stored is
not there at all (its truck still awaits one)."""

from __future__ import annotations

import base64
import json
import re
import signal
from collections import Counter
from pathlib import Path

import httpx
import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, select

from edge.arrivals import ArrivalStore
from edge.cli.demo_cmd import node_config
from edge.officers import OfficerStore, Role
from edge.store import open_database
from edge.store.schema import decisions, decisions_queued, outbox, outbox_envelopes
from edge.timeutil import utcnow
from provisioning.identity.fleet import make_fleet
from sync.broker_process import free_port
from tests.integration.service_process import ServiceProcess
from tests.sync.crossing import ENTRY, EXIT

pytestmark = pytest.mark.chaos
CIS = "KZ-CIS"
PIN = "1111"
HTTP_TIMEOUT = 60.0


def box_config(tmp_path: Path, fleet_root: Path, kiosk_port: int) -> Path:
    fleet = make_fleet(fleet_root, [EXIT, ENTRY])
    text = node_config(fleet, EXIT, free_port())  # a broker nobody runs: the outbox is enough
    text = text.replace("[kiosk]\nenabled = false", f"[kiosk]\nport = {kiosk_port}")
    text = text.replace("[sync]\n", f'[sync]\ndecisions_to = ["{CIS}"]\n')
    path = tmp_path / "box.toml"
    path.write_text(text, encoding="utf-8")
    return path


def prepare(data_dir: Path, trucks: int) -> list[int]:
    """An officer, and the trucks' open arrivals (opened by hand: no record fits); their ids."""
    engine = open_database(data_dir)
    now = utcnow()
    hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    OfficerStore(engine, hasher).create("ivan", "Ivan", PIN, Role.OFFICER)
    arrivals = ArrivalStore(engine)
    ids = [arrivals.open(str(n + 1), "manual", now) for n in range(trucks)]
    engine.dispose()
    return ids


class Desk:
    """The officer at the kiosk, over HTTP."""

    def __init__(self, port: int) -> None:
        self.client = httpx.Client(
            base_url=f"http://127.0.0.1:{port}", timeout=HTTP_TIMEOUT, follow_redirects=True
        )
        response = self.client.post("/login", data={"login": "ivan", "pin": PIN})
        assert response.status_code == 200, response.text
        found = re.search(r'name="csrf_token" value="([^"]+)"', response.text)
        assert found, "no CSRF token after login"
        self.csrf = found.group(1)

    def decide(self, arrival_id: int) -> httpx.Response:
        return self.client.post(
            f"/api/arrivals/{arrival_id}/decision",
            # No record fits a truck opened by hand: red, at least a physical inspection.
            json={"kind": "physical_inspection", "reason": "LANE_REQUIRES_CHECK"},
            headers={"X-CSRF-Token": self.csrf},
        )

    def close(self) -> None:
        self.client.close()


def decision_messages(engine: Engine) -> Counter[tuple[int, str]]:
    """(arrival id, destination) of every decision message in the outbox, counted."""
    with engine.connect() as conn:
        rows = conn.execute(
            select(outbox.c.destination, outbox_envelopes.c.envelope)
            .join(outbox_envelopes, outbox_envelopes.c.id == outbox.c.id)
            .where(outbox.c.type == "decision")
        ).all()
    found: Counter[tuple[int, str]] = Counter()
    for destination, envelope in rows:
        body = envelope.split(b".")[1]
        signed = json.loads(base64.urlsafe_b64decode(body + b"=" * (-len(body) % 4)))
        found[(signed["payload"]["arrival"]["arrival_id"], destination)] += 1
    return found


@pytest.mark.parametrize(
    ("faults", "stored", "sent_at_start"),
    [
        ("decision.before_commit=kill", False, 0),
        ("decision.committed=kill", True, 0),
        ("decision.queue=raise,decision.committed=kill", True, 1),
    ],
    ids=["inside-the-transaction", "after-the-commit", "after-a-commit-the-outbox-refused"],
)
def test_a_post_killed_while_deciding_sends_every_decision_exactly_once(
    tmp_path: Path, faults: str, stored: bool, sent_at_start: int
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    config = box_config(tmp_path, tmp_path / "fleet", port)
    first, second = prepare(data_dir, 2)

    with ServiceProcess(config, data_dir, env={"CAREC_EDGE_FAULTS": faults}) as service:
        service.wait_log("kiosk.serving", timeout=60)
        desk = Desk(port)
        with pytest.raises(httpx.TransportError):
            desk.decide(first)  # the post dies under the officer's hands
        desk.close()
        assert service.process.wait(timeout=60) == -signal.SIGKILL, "the fault point was not hit"

    with ServiceProcess(config, data_dir) as service:
        line = service.wait_log("decisions.reconciled", timeout=60)
        assert f"queued={sent_at_start} failed=0" in line
        service.wait_log("kiosk.serving", timeout=60)
        desk = Desk(port)
        awaiting = [second] if stored else [first, second]  # an unstored decision is taken again
        for arrival_id in awaiting:
            assert desk.decide(arrival_id).status_code == 201
        assert desk.decide(first).status_code == 409  # never decided twice
        desk.close()
        assert service.stop() == 0

    engine = open_database(data_dir)
    with engine.connect() as conn:
        decided = conn.execute(select(decisions.c.id, decisions.c.arrival_id)).all()
        queued = conn.execute(select(decisions_queued.c.decision_id)).scalars().all()
    engine_messages = decision_messages(engine)
    engine.dispose()
    assert sorted(arrival for _, arrival in decided) == [first, second]
    assert sorted(queued) == sorted(decision for decision, _ in decided)
    assert engine_messages == Counter({(first, CIS): 1, (second, CIS): 1})


def test_a_decision_the_outbox_refused_while_running_is_sent_without_a_restart(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    port = free_port()
    config = box_config(tmp_path, tmp_path / "fleet", port)
    # The periodic upkeep (at its shortest, a minute) sends what the outbox refused before.
    config.write_text(
        config.read_text(encoding="utf-8") + "\n[service]\npurge_interval_minutes = 1\n",
        encoding="utf-8",
    )
    (first,) = prepare(data_dir, 1)

    faults = "decision.queue=raise@1"  # the first decision's messages are refused, once
    with ServiceProcess(config, data_dir, env={"CAREC_EDGE_FAULTS": faults}) as service:
        service.wait_log("kiosk.serving", timeout=60)
        desk = Desk(port)
        assert desk.decide(first).status_code == 201  # kept, though its messages were not
        desk.close()
        service.wait_log("decision.hook_failed", timeout=60)
        line = service.wait_log("decisions.reconciled", "queued=1", timeout=180)
        assert "failed=0" in line
        assert service.stop() == 0

    engine = open_database(data_dir)
    messages = decision_messages(engine)
    engine.dispose()
    assert messages == Counter({(first, CIS): 1})
