"""The demo's fleet: its posts join through enrolment and report to their centres.

Each post starts with no identity. The Kazakh exit post's serial is registered at KZ-CIS
beforehand, so it is enrolled as soon as it asks; the Kyrgyz entry post asks, shows its
enrolment code, and waits until KG-CIS's fleet operator (the demo, on the command line)
approves it. The centre's answer gives each its certificate, trust store, sync peer and the
centre to report to. Once running, each post reports its health to its centre every few
seconds; the demo then sends the exit post a command and a configuration change through
KZ-CIS and shows what came back. Every step is the real one: `carec-edge fleet enrol` on the
box, `carec-edge centre fleet ...` at the centre, the signed sync between them.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from edge.cli.demo_centres import DEMO_FLEET, Centre

HEALTH_INTERVAL_S = 10.0  # the demo's boxes report often, so their health shows at once
TWIN_GRACE_S = 10  # the shortest grace a twin change may have
DEMO_OPERATOR_NAME = DEMO_FLEET  # who the command-line actions are audited as

Wait = Callable[[Callable[[], bool], str], None]


def serial_of(node_id: str) -> str:
    """The demo's stand-in for a board's serial number."""
    return f"DEMO-{node_id}"


def box_config(
    node_id: str, identity_dir: Path, trust_store: Path, *, kiosk_port: int | None
) -> str:
    """A new box's configuration: who it is and where its identity will be. No sync peers
    and no centre to report to: enrolment writes both from the centre's answer."""
    kiosk = f"port = {kiosk_port}" if kiosk_port else "enabled = false"
    return f"""[node]
id = "{node_id}"

[logging]
level = "INFO"

[kiosk]
{kiosk}

[sync]
identity_dir = "{identity_dir}"
trust_store = "{trust_store}"
redeliver_after_s = 10.0

[fleet]
health_interval_s = {HEALTH_INTERVAL_S}
"""


def fleet_section(ca_dir: Path, broker_port: int) -> str:
    """A centre's [fleet]: enrolment by its country's CA, its boxes' peer its own broker."""
    return f"""[fleet]
silent_minutes = 2
check_every_s = 5

[fleet.enrolment]
ca_dir = "{ca_dir}"

[[fleet.enrolment.box_peers]]
name = "hub"
host = "127.0.0.1"
port = {broker_port}
destinations = ["*"]
"""


def _cli(*args: str) -> str:
    """A `carec-edge` command's output; RuntimeError with its error when it fails."""
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"carec-edge {' '.join(args[:4])}: {done.stderr.strip()[-500:]}")
    return done.stdout


def _centre_fleet(centre: Centre, *args: str) -> str:
    return _cli("centre", "fleet", "--config", str(centre.config),
                "--operator", DEMO_OPERATOR_NAME, *args)  # fmt: skip


def _enrol(config: Path, centre: Centre, node_id: str) -> str:
    return _cli("--config", str(config), "fleet", "enrol", "--centre", centre.api,
                "--serial", serial_of(node_id), "--no-wait")  # fmt: skip


def _code(output: str) -> str:
    for line in output.splitlines():
        if line.startswith("enrolment code: "):
            return line.split()[2]
    raise RuntimeError(f"no enrolment code in: {output[-300:]}")


def enrol_pre_registered(config: Path, centre: Centre, node_id: str) -> None:
    """Register the box's serial at its centre, then let the box ask: enrolled at once."""
    _centre_fleet(centre, "register", node_id, serial_of(node_id))
    out = _enrol(config, centre, node_id)
    if "enrolled:" not in out:
        raise RuntimeError(f"{node_id} was not enrolled: {out[-500:]}")
    print(f"{node_id} enrolled at {centre.node}: its serial {serial_of(node_id)} was registered "
          f"beforehand, so its request (code {_code(out)}) was approved at once")  # fmt: skip


def enrol_by_operator(config: Path, centre: Centre, node_id: str) -> None:
    """The box asks and waits; the operator compares its code with the centre's, approves."""
    out = _enrol(config, centre, node_id)
    code = _code(out)
    pending = _centre_fleet(centre, "pending")
    if code not in pending:
        raise RuntimeError(f"{centre.node} does not list {node_id}'s code {code}: {pending}")
    _centre_fleet(centre, "approve", node_id)
    out = _enrol(config, centre, node_id)
    if "enrolled:" not in out:
        raise RuntimeError(f"{node_id} was not enrolled: {out[-500:]}")
    print(f"{node_id} asked {centre.node} to enrol it and showed code {code}; the fleet "
          "operator found the same code in the centre's list and approved it")  # fmt: skip


def _health(centre: Centre, node_id: str) -> tuple[str, dict[str, Any]] | None:
    import sqlite3

    with sqlite3.connect(centre.database) as db:
        row = db.execute(
            "SELECT colour, report FROM fleet_health WHERE node_id = ?", (node_id,)
        ).fetchone()
    return (str(row[0]), json.loads(row[1])) if row else None


def _one(centre: Centre, sql: str, *params: object) -> tuple[Any, ...] | None:
    import sqlite3

    with sqlite3.connect(centre.database) as db:
        row = db.execute(sql, params).fetchone()
    return tuple(row) if row else None


def show_fleet(boxes: Sequence[tuple[Centre, str]], wait_until: Wait) -> None:
    """Each box's health as its centre has it."""
    print("\n== the fleet: each post reports its health to its centre "
          f"every {HEALTH_INTERVAL_S:g} s (carec-edge centre fleet status)")  # fmt: skip
    for centre, node_id in boxes:
        wait_until(lambda c=centre, n=node_id: _health(c, n) is not None,  # type: ignore[misc]
                   f"{node_id}'s health at {centre.node}")  # fmt: skip
        health = _health(centre, node_id)
        assert health is not None
        colour, report = health
        devices = report.get("devices") or []
        connected = sum(1 for d in devices if d["health"] == "connected")
        print(f"{centre.node}: {node_id} {colour}: service {report['service']}, plate worker "
              f"{report['plate_worker']}, {connected}/{len(devices)} devices connected, disk "
              f"{report['disk_used_pct']}% used, clock {report['clock']['source']}")  # fmt: skip
        for kind, reason in _open_alerts(centre, node_id):
            print(f"  alert {kind}: {reason}")


def _open_alerts(centre: Centre, node_id: str) -> list[tuple[str, str]]:
    import sqlite3

    with sqlite3.connect(centre.database) as db:
        rows = db.execute(
            "SELECT kind, reason FROM fleet_alerts WHERE node_id = ? AND cleared_at IS NULL "
            "ORDER BY id", (node_id,),
        ).fetchall()  # fmt: skip
    return [(str(kind), str(reason)) for kind, reason in rows]


def command_and_twin(centre: Centre, node_id: str, wait_until: Wait) -> None:
    """A self-test command, then a configuration change, from the centre to one box."""
    out = _centre_fleet(centre, "command", node_id, "--action", "self_test",
                        "--ttl-minutes", "10")  # fmt: skip
    command_id = out.split()[-1]
    query = "SELECT state, output FROM fleet_commands WHERE command_id = ?"
    wait_until(lambda: (_one(centre, query, command_id) or ("sent",))[0] != "sent",
               f"{node_id}'s answer to the self-test")  # fmt: skip
    state, output = _one(centre, query, command_id) or ("?", "")
    first = str(output or "").splitlines()[:1]
    print(f"\n== {centre.node} sent {node_id} a signed self_test command (expires in 10 "
          f"minutes): {state}{': ' + first[0] if first else ''}")  # fmt: skip

    sections = centre.config.parent / f"{node_id}-twin.json"
    sections.write_text(json.dumps({"lanes": {"idle_timeout_minutes": 20}}), encoding="utf-8")
    _centre_fleet(centre, "twin", node_id, "--sections", str(sections),
                  "--grace-s", str(TWIN_GRACE_S))  # fmt: skip
    wait_until(lambda: _twin(centre, node_id)[0] in SETTLED, f"{node_id}'s configuration change")
    state, applied, desired = _twin(centre, node_id)
    print(f"{centre.node} changed {node_id}'s [lanes] idle timeout to 20 minutes (twin "
          f"version {desired}): the box checked it with its own models, wrote it, restarted "
          f"on it, watched its health for {TWIN_GRACE_S} s and reported it {state} (version "
          f"{applied})")  # fmt: skip


SETTLED = ("applied", "rolled_back", "rejected")


def _twin(centre: Centre, node_id: str) -> tuple[str, int, int]:
    """The box's last report on the centre's newest desired version: state, applied, desired
    (state "sent" while the box has not answered that version)."""
    row = _one(centre, "SELECT reported_state, applied_version, desired_version, "
               "reported_desired_version FROM fleet_twins WHERE node_id = ?", node_id)  # fmt: skip
    if row is None:
        return ("sent", 0, 0)
    state, applied, desired, answered = row
    return (str(state) if answered == desired else "sent", int(applied), int(desired))
