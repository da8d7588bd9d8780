"""The transparency log as it runs in a country: a real box (`carec-edge run`) whose log the
real centre (`CentreService`) witnesses over a real mosquitto with mutual TLS.

The box's link coming up is a sync, so it shows the centre a checkpoint with no waiting for
the five-minute cadence; the centre cosigns it and the box keeps the cosignature. Then an
auditor, holding only the box's log key and the centre's witness key, checks offline that a
message the box signed is in a checkpoint the centre cosigned (`carec-edge log prove` and
`carec-edge log verify`, in processes of their own).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from edge.store.schema import outbox, tlog_cosignatures
from tests.integration.test_fleet_through_the_centre import (
    BOX,
    CENTRE,
    Country,
    start_box,
    wait_for,
)
from tests.integration.test_fleet_through_the_centre import (
    country as country,  # the fixture, shared
)

pytestmark = pytest.mark.slow


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", *args], capture_output=True, text=True,
        check=False, timeout=120, cwd=cwd,
    )  # fmt: skip


def test_the_centre_cosigns_the_box_log_at_sync_and_an_auditor_checks_a_message_offline(
    country: Country, tmp_path: Path
) -> None:
    # The box names its centre as its witness (the fixture's config, plus this section).
    with country.box_config.open("a", encoding="utf-8") as config:
        config.write(f'\n[sync.transparency]\nwitnesses = ["{CENTRE}"]\n')
    box = start_box(country)
    try:
        wait_for(
            box,
            lambda: country.at_box(
                select(tlog_cosignatures.c.size).where(tlog_cosignatures.c.witness == CENTRE)
            ),
            "the centre's cosignature of the box's checkpoint",
        )
        seen = country.at_centre(
            "SELECT size, source FROM tlog_witnessed WHERE log_node = :box", box=BOX
        )
        assert seen
        assert {source for _, source in seen} == {BOX}
        cosigned = country.at_box(select(tlog_cosignatures.c.size))
        assert max(int(str(size)) for (size,) in cosigned) == max(
            int(str(size)) for size, _ in seen
        )
    finally:
        box.stop()

    # What the box signed first (a health report, with the link's first round) is proved.
    first = country.at_box(select(outbox.c.id).order_by(outbox.c.created_at, outbox.c.id).limit(1))
    message_id = str(first[0][0])
    box_cli = ["--config", str(country.box_config), "--data-dir", str(country.box_data), "log"]
    log_key = cli(*box_cli, "key")
    witness_key = cli("log", "--centre", str(country.centre_config), "key", "--witness")
    assert log_key.returncode == 0, log_key.stderr
    assert witness_key.returncode == 0, witness_key.stderr
    proof = tmp_path / "proof.json"
    made = cli(*box_cli, "prove", message_id, "-o", str(proof))
    assert made.returncode == 0, made.stderr
    document = json.loads(proof.read_text())  # one entry: the box signed it, never applied it
    assert document["entry"]["kind"] == "signed"
    assert CENTRE in document["witnesses"]

    auditor = tmp_path / "auditor"  # no config, no database: the file and two keys
    auditor.mkdir()
    checked = cli(
        "log", "verify", str(proof), "--log-key", log_key.stdout.strip(),
        "--witness-key", witness_key.stdout.strip(), cwd=auditor,
    )  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr

    # The same proof against a key that is not the centre's witness key fails.
    other = cli("log", "--centre", str(country.centre_config), "key")  # the centre's LOG key
    refused = cli(
        "log", "verify", str(proof), "--log-key", log_key.stdout.strip(),
        "--witness-key", other.stdout.strip(), cwd=auditor,
    )  # fmt: skip
    assert refused.returncode != 0
