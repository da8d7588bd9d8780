"""`carec-edge log ...` on a real box store: decisions the outbox signed are in the log; once a
checkpoint is signed, `log prove` writes their evidence, and `log verify` checks it (and a chain,
and a whole export) with nothing but the files and the key, as an auditor elsewhere would."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.cli import main
from edge.store import open_database
from edge.store.schema import outbox_envelopes
from provisioning.identity.fleet import make_fleet
from sync.messages import DecisionMessage
from sync.outbox import Outbox, Route, Signer
from tests.chaos.harness import node_config
from tests.sync.crossing import ENTRY, EXIT

CENTRE = "KZ-CIS"


def carec_edge(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True, check=False,
        timeout=120, cwd=cwd,
    )  # fmt: skip


def decide(data: Path, identity: Path, count: int) -> list[str]:
    box = Outbox(open_database(data), Signer.load(identity, EXIT), [Route("*", "hub")])
    return box.send_many([
        (DecisionMessage.model_validate({
            "arrival": {"node": EXIT, "arrival_id": n}, "decision": "release", "reason": "OK",
            "officer": "officer-1", "decided_at": "2026-12-01T08:40:00Z",
        }), ENTRY, None)
        for n in range(1, count + 1)
    ])  # fmt: skip


def envelope_of(data: Path, message_id: str) -> bytes:
    with open_database(data).connect() as conn:
        return bytes(
            conn.execute(
                select(outbox_envelopes.c.envelope).where(outbox_envelopes.c.id == message_id)
            ).scalar_one()
        )


def test_an_auditor_verifies_a_decisions_proof_a_chain_and_the_export_offline(
    tmp_path: Path,
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    config, data = node_config(fleet, EXIT, 1, tmp_path / "exit.toml"), tmp_path / "exit"
    box = ("--config", str(config), "--data-dir", str(data), "log")
    ids = decide(data, fleet.nodes[EXIT], 3)

    status = json.loads(carec_edge(*box, "status", "--json").stdout)
    assert (status["size"], status["queued"], status["checkpoint"]) == (0, 3, None)
    assert status["alerts"] == 0

    early = carec_edge(*box, "prove", ids[1])
    assert early.returncode == 1
    assert "no checkpoint covers it yet" in early.stderr

    signed = carec_edge(*box, "checkpoint")
    assert "checkpoint of size 3" in signed.stdout, signed.stderr
    decide(data, fleet.nodes[EXIT], 2)
    assert "checkpoint of size 5" in carec_edge(*box, "checkpoint").stdout
    vkey = carec_edge(*box, "key").stdout.strip()
    (tmp_path / "log.vkey").write_text(vkey + "\n")
    proof = tmp_path / "proof.json"
    assert carec_edge(*box, "prove", ids[1], "-o", str(proof)).returncode == 0
    (tmp_path / "decision.jws").write_bytes(envelope_of(data, ids[1]))
    assert carec_edge(*box, "chain", "-o", str(tmp_path / "chain.json")).returncode == 0
    assert carec_edge(*box, "export", str(tmp_path / "export")).returncode == 0

    # The auditor: no config, no store, another directory.
    auditor = tmp_path / "auditor"
    auditor.mkdir()
    ok = carec_edge("log", "verify", str(proof), "--log-key", vkey,
                    "--envelope", str(tmp_path / "decision.jws"), cwd=auditor)  # fmt: skip
    assert ok.returncode == 0, ok.stderr
    assert f"message {ids[1]} (signed) is entry 1 of checkpoint 5" in ok.stdout
    assert "envelope matches" in ok.stdout
    assert not (auditor / "exit").exists()

    self_asserted = carec_edge("log", "verify", str(proof), "--json", cwd=auditor)
    assert json.loads(self_asserted.stdout)["proofs"][0]["log_key_source"] == "self-asserted key"

    (tmp_path / "other.jws").write_bytes(envelope_of(data, ids[0]))
    wrong = carec_edge("log", "verify", str(proof), "--log-key-file", str(tmp_path / "log.vkey"),
                       "--envelope", str(tmp_path / "other.jws"), cwd=auditor)  # fmt: skip
    assert wrong.returncode == 1
    assert "FAILED: envelope: SHA-256" in wrong.stderr

    chained = carec_edge("log", "verify", str(tmp_path / "chain.json"), "--log-key", vkey)
    assert chained.returncode == 0, chained.stderr
    assert "2 checkpoints, sizes 3 .. 5" in chained.stdout

    exported = carec_edge("log", "verify", str(tmp_path / "export"), "--log-key", vkey, "--json")
    assert json.loads(exported.stdout)["ok"] is True
    entries = tmp_path / "export" / "entries.jsonl"
    lines = entries.read_text().splitlines()
    entries.write_text("\n".join([lines[0], *lines[2:]]) + "\n")
    dropped = carec_edge("log", "verify", str(tmp_path / "export"), "--log-key", vkey)
    assert dropped.returncode == 1
    assert "entry 1: missing (line 2 holds entry 2)" in dropped.stdout


def test_the_centres_log_through_its_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [CENTRE])
    config = tmp_path / "centre.toml"
    config.write_text(
        f'[centre]\nid = "{CENTRE}"\ndatabase = "sqlite:///{tmp_path / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes[CENTRE]}"\n'
        f'trust_store = "{fleet.trust_store}"\n'
    )
    assert main(["log", "--centre", str(config), "checkpoint"]) == 0
    assert main(["log", "--centre", str(config), "status", "--json"]) == 0
    status = json.loads(capsys.readouterr().out.splitlines()[-1])
    assert status["node"] == CENTRE
    assert status["checkpoint"]["size"] == 0
    assert status["vkey"].startswith(f"carec-edge/{CENTRE}+")
