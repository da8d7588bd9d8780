"""`carec-edge fleet status`, as a real process over a real store: enrolled or not and until
when, the twin's versions and state, the commands waiting, the last health report."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from edge.timeutil import utcnow
from provisioning.fleet.status import HEALTH_SENT, mark
from tests.integration.service_process import REPO
from tests.provisioning.fleet_box import FleetBox, command, make_box, twin


def fleet_status(box: FleetBox, data_dir: Path, *args: str) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(box.config_path),
         "--data-dir", str(data_dir), "fleet", "status", *args],
        capture_output=True, text=True, timeout=120,
        env=os.environ | {"PYTHONPATH": str(REPO)}, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    return done.stdout


def test_fleet_status_shows_enrolment_twin_commands_and_the_last_health_report(
    tmp_path: Path,
) -> None:
    box = make_box(tmp_path)
    box.send(twin(3, {"matching": {"min_score": 3}}))  # rejected
    waiting = command("self_test")
    box.send(waiting)
    mark(box.engine, HEALTH_SENT, utcnow())
    box.engine.dispose()

    shown = json.loads(fleet_status(box, tmp_path / "box", "--json"))
    text = fleet_status(box, tmp_path / "box")

    assert shown["node"] == "KZ-NURZHOLY-1"
    assert shown["enrolled"] is True
    assert shown["certificate_not_after"].endswith("Z")
    assert shown["report_to"] == "KZ-CIS"
    assert (shown["twin_desired_version"], shown["twin_applied_version"]) == (3, 0)
    assert shown["twin_state"] == "rejected"
    assert shown["twin_errors"][0].startswith("matching.min_score: ")
    assert [c["command_id"] for c in shown["pending_commands"]] == [waiting.command_id]
    assert shown["last_health_at"] is not None
    assert "enrolled:     yes, certificate valid until " in text
    assert "twin:         applied version 0; latest version 3: rejected" in text
    assert "commands waiting: 1" in text
    assert f"  {waiting.command_id}  self_test" in text


def test_a_box_without_a_certificate_is_not_enrolled(tmp_path: Path) -> None:
    box = make_box(tmp_path)
    (box.fleet.nodes["KZ-NURZHOLY-1"] / "node.crt").unlink()
    box.engine.dispose()

    shown = json.loads(fleet_status(box, tmp_path / "box", "--json"))

    assert (shown["enrolled"], shown["certificate_not_after"]) == (False, None)
    assert (shown["twin_state"], shown["pending_commands"], shown["last_health_at"]) == (
        None, [], None,
    )  # fmt: skip
