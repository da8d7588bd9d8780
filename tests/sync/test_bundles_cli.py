"""Where there is no link at all: `carec-edge sync export` writes what waits for a peer as a
signed file bundle, `carec-edge sync import` applies it at the other post, each message once."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from provisioning.identity.fleet import Fleet, make_fleet
from sync.messages import ExitConfirmationMessage
from sync.outbox import Outbox, Route, Signer
from tests.chaos.harness import node_config
from tests.fixtures.records import record
from tests.sync.crossing import ENTRY, EXIT


def carec_edge(config: Path, data: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "--config", str(config), "--data-dir", str(data), *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def queue_confirmations(fleet: Fleet, data: Path, count: int) -> None:
    box = Outbox(open_database(data), Signer.load(fleet.nodes[EXIT], EXIT), [Route("*", "hub")])
    box.send_many([
        (ExitConfirmationMessage.model_validate({"record": record(ref=f"B{i}"), "exited_at": "2026-11-28T09:00:00Z", "exit_node": EXIT}), ENTRY, None)
        for i in range(count)
    ])  # fmt: skip


def test_a_bundle_carries_the_queue_to_the_other_post_once(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    exit_config = node_config(fleet, EXIT, 1, tmp_path / "exit.toml")  # no broker: no link
    entry_config = node_config(fleet, ENTRY, 1, tmp_path / "entry.toml")
    queue_confirmations(fleet, tmp_path / "exit", 5)

    status = carec_edge(exit_config, tmp_path / "exit", "sync", "status", "--json")
    queues = {q["class"]: q for q in json.loads(status.stdout)["queues"]}
    assert queues["evidence"]["depth"] == 5

    bundle = tmp_path / "to-kg.bundle"
    exported = carec_edge(
        exit_config, tmp_path / "exit", "sync", "export", "--peer", "hub", "--out", str(bundle)
    )
    assert exported.returncode == 0, exported.stderr
    assert "exported 5 messages" in exported.stdout

    first = carec_edge(entry_config, tmp_path / "entry", "sync", "import", str(bundle))
    again = carec_edge(entry_config, tmp_path / "entry", "sync", "import", str(bundle))
    assert first.returncode == 0, first.stderr
    assert "5 applied" in first.stdout
    assert "0 applied, 5 duplicate" in again.stdout
    assert ManifestCache(open_database(tmp_path / "entry")).count() == 5


def test_a_tampered_bundle_line_is_quarantined_and_the_rest_applied(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    exit_config = node_config(fleet, EXIT, 1, tmp_path / "exit.toml")
    entry_config = node_config(fleet, ENTRY, 1, tmp_path / "entry.toml")
    queue_confirmations(fleet, tmp_path / "exit", 3)
    bundle = tmp_path / "to-kg.bundle"
    carec_edge(
        exit_config, tmp_path / "exit", "sync", "export", "--peer", "hub", "--out", str(bundle)
    )
    lines = bundle.read_text().splitlines()
    line = json.loads(lines[2])
    header, payload, signature = line["envelope"].split(".")
    line["envelope"] = ".".join((header, payload[:-4] + "AAAA", signature))
    lines[2] = json.dumps(line)
    lines.append("not json at all")
    bundle.write_text("\n".join(lines) + "\n")

    result = carec_edge(entry_config, tmp_path / "entry", "sync", "import", str(bundle))
    assert result.returncode == 1
    # The tampered one is refused; the one after it waits for it (its stream keeps its order).
    assert "1 applied, 0 duplicate, 1 parked, 2 quarantined" in result.stdout
    assert '"bad_signature": 1' in result.stdout
    assert ManifestCache(open_database(tmp_path / "entry")).count() == 1


def test_a_file_that_is_not_a_bundle_is_refused(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [ENTRY])
    config = node_config(fleet, ENTRY, 1, tmp_path / "entry.toml")
    junk = tmp_path / "junk"
    junk.write_text("hello\n")
    result = carec_edge(config, tmp_path / "entry", "sync", "import", str(junk))
    assert result.returncode == 2
    assert "not a bundle" in result.stderr
