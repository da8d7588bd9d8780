"""`make demo` keeps working: the crossing of two posts and three national centres, run as the
README says. With
`--no-serve` it stops after the day's summary; without, it keeps the crossing running (both
kiosks, trucks arriving at each post's camera) until Ctrl-C, which stops every process."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.officers import DEMO_MARKER
from edge.store.database import DATABASE_NAME

REPO = Path(__file__).resolve().parents[2]
CONSOLE = re.compile(r"^console of (\S+): (http://127\.0\.0\.1:\d+/)$")
KIOSK = re.compile(r"^kiosk of (\S+) \((?:exit|entry) post\): (http://127\.0\.0\.1:\d+/)$")


def test_the_crossing_demo_matches_trucks_on_both_sides_of_the_border(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "demo", "--trucks", "25", "--seed", "7", "--no-serve",
         "--dir", str(tmp_path)],
        capture_output=True, text=True, check=False, timeout=900,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    out = result.stdout
    # The simulated CIS submitted through the centre's API and its drop directory (a file in
    # each format); the centre signed and routed every record to the exit post.
    assert "submitted 25 pre-arrival records to KZ-CIS: 12 through its API (12 accepted)" in out
    assert "(day.jsonl, day.edi, day.xml)" in out
    assert "KZ-CIS signed and routed them: 25 to KZ-NURZHOLY-1" in out
    to_kg = re.search(r"KZ-CIS -> KG-CIS \(CIE, real time\): the (\d+) records", out)
    assert to_kg is not None
    assert int(to_kg.group(1)) >= 1
    held = re.search(r"CN-CIS holds (\d+) records from KZ-CIS in its SIE review queue", out)
    assert held is not None
    assert int(held.group(1)) >= 1
    feed = re.search(r"KZ-CIS's event feed for its CIS holds (\d+) events", out)
    assert feed is not None
    confirmations = re.search(
        r"sent (\d+) exit confirmations to KG-TORUGART-1, through KZ-CIS .* and KG-CIS", out
    )
    assert confirmations is not None
    assert int(confirmations.group(1)) >= 20
    assert int(feed.group(1)) >= int(confirmations.group(1))  # each one in the KZ CIS's feed
    rights = [(int(a), int(b)) for a, b in re.findall(r"^right +(\d+)/(\d+)", out, re.MULTILINE)]
    assert len(rights) == 2  # the exit post's trucks, then the entry post's
    assert all(right >= 0.9 * total for right, total in rights)
    camera = re.search(r"read exactly (\d+)/(\d+), matched to their record (\d+)/(\d+)", out)
    assert camera is not None, out[-2000:]  # the entry lane's camera, through plate recognition
    _, trucks, matched, _ = map(int, camera.groups())
    assert trucks == 12
    assert matched >= 0.9 * trucks
    assert "kiosk of" not in out  # --no-serve: nothing left running to open

    # The posts joined through enrolment: one pre-registered by serial, one approved by the
    # operator after comparing its code; both then reported health to their centres, and the
    # exit post answered a command and took a configuration change from KZ-CIS.
    assert re.search(r"^KZ-NURZHOLY-1 enrolled at KZ-CIS: its serial \S+ was registered", out, re.M)
    code = re.search(r"^KG-TORUGART-1 asked KG-CIS to enrol it and showed code (\S+);", out, re.M)
    assert code is not None
    assert re.search(r"^KZ-CIS: KZ-NURZHOLY-1 (green|amber|red): service ", out, re.M)
    assert re.search(r"^KG-CIS: KG-TORUGART-1 (green|amber|red): service ", out, re.M)
    assert re.search(r"a signed self_test command \(expires in 10 minutes\): done", out)
    assert re.search(r"reported it applied \(version 1\)$", out, re.M)
    exit_config = (tmp_path / "KZ-NURZHOLY-1.toml").read_text(encoding="utf-8")
    assert 'report_to = "KZ-CIS"' in exit_config  # from the centre's enrolment answer
    assert "idle_timeout_minutes = 20" in exit_config  # the twin change, in the file
    assert (tmp_path / "KZ-NURZHOLY-1.toml.previous").is_file()
    with sqlite3.connect(tmp_path / "KG-CIS" / "centre.sqlite3") as db:
        enrolled = db.execute(
            "SELECT state, enrolment_code, decided_by FROM fleet_boxes WHERE node_id = ?",
            ("KG-TORUGART-1",),
        ).fetchone()
    assert enrolled == ("enrolled", code.group(1), "demo-fleet")

    # The post itself read them: each truck opened an arrival by its camera's presence
    # trigger, and the plate worker's vote became a reading from that camera.
    entry = tmp_path / "KG-TORUGART-1"
    with sqlite3.connect(entry / DATABASE_NAME) as db:
        arrivals = db.execute(
            "SELECT a.opened_by, a.best_ref, COUNT(r.seq) FROM arrivals a JOIN arrival_readings r"
            " ON r.arrival_id = a.id AND r.kind = 'plate' AND r.device = 'cam-1' GROUP BY a.id"
        ).fetchall()
    assert [opened_by for opened_by, _, _ in arrivals] == ["camera"] * trucks
    assert sum(1 for _, ref, _ in arrivals if ref) >= matched
    # Every data directory the demo made carries its marker (the demo officers may go there).
    assert (entry / DEMO_MARKER).is_file()
    assert (tmp_path / "KZ-NURZHOLY-1" / DEMO_MARKER).is_file()


def session_processes(session: int) -> dict[int, str]:
    """The live processes of a session (zombies are gone, only not yet reaped), pid -> name."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # it ended while we looked
        name, rest = stat[stat.index("(") + 1 : stat.rindex(")")], stat[stat.rindex(")") + 2 :]
        fields = rest.split()
        state, sid = fields[0], int(fields[3])
        if sid == session and state != "Z":
            found[int(entry.name)] = name
    return found


class Lines:
    """A process's stdout, line by line as it comes, to wait on."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self.seen: list[str] = []
        self.ended = False
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.seen.append(line.rstrip("\n"))
                self._changed.notify_all()
        with self._changed:
            self.ended = True
            self._changed.notify_all()

    def wait_for(self, pattern: re.Pattern[str], count: int = 1, timeout: float = 600) -> list[str]:
        deadline = time.monotonic() + timeout
        with self._changed:
            while True:
                found = [line for line in self.seen if pattern.search(line)]
                if len(found) >= count:
                    return found
                left = deadline - time.monotonic()
                if left <= 0 or self.ended:
                    tail = "\n".join(self.seen[-40:])
                    raise AssertionError(f"no {count} lines like {pattern.pattern}:\n{tail}")
                self._changed.wait(min(left, 1.0))


@pytest.fixture
def demo(tmp_path: Path) -> Iterator[tuple[subprocess.Popen[str], Lines]]:
    """`carec-edge demo` serving, in a session of its own (so its processes can be found)."""
    env = os.environ | {"PYTHONPATH": str(REPO), "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "demo", "--trucks", "25", "--seed", "7",
         "--camera-trucks", "1", "--kiosk-port", "0", "--pace", "2", "--dir", str(tmp_path)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )  # fmt: skip
    try:
        yield process, Lines(process)
    finally:
        if process.poll() is None:  # the test failed before its Ctrl-C: leave nothing behind
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def test_the_demo_serves_both_kiosks_until_ctrl_c_then_stops_every_process(
    demo: tuple[subprocess.Popen[str], Lines],
) -> None:
    process, lines = demo
    kiosks = [KIOSK.match(line) for line in lines.wait_for(KIOSK, count=2)]
    urls = {m.group(1): m.group(2) for m in kiosks if m}
    assert set(urls) == {"KZ-NURZHOLY-1", "KG-TORUGART-1"}
    lines.wait_for(re.compile(r"^  demo-supervisor +BADGE-0002  5678  \(supervisor\)$"))
    consoles = [CONSOLE.match(line) for line in lines.wait_for(CONSOLE, count=2)]
    console_urls = {m.group(1): m.group(2) for m in consoles if m}
    assert set(console_urls) == {"KZ-CIS", "CN-CIS"}
    for url in console_urls.values():
        with urllib.request.urlopen(f"{url}login", timeout=60) as response:
            assert response.status == 200
    lines.wait_for(re.compile(r"^console logins: .*demo-fleet / demo-fleet-password \(the fleet"))
    for url in urls.values():
        with urllib.request.urlopen(f"{url}login", timeout=60) as response:
            assert response.status == 200
            assert 'id="login-form"' in response.read().decode()
    # Live trucks: one drives up at each post's camera and is read there.
    lines.wait_for(re.compile(r" lane 1: \S.* read as .* -> .*; decide at http"), count=2)

    running = session_processes(process.pid)
    assert "mosquitto" in running.values(), running
    # the demo, two brokers, two posts (and their readers), three centres
    assert len(running) >= 8, running
    process.send_signal(signal.SIGINT)  # Ctrl-C
    assert process.wait(timeout=120) == 0
    lines.wait_for(
        re.compile(r"^stopped: every post, centre and broker, and the cameras are down$")
    )
    assert session_processes(process.pid) == {}
