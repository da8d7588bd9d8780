"""`carec-edge centre updates rollout ...` on a centre's config and SQLite database: a rollout
started from the real TUF repository's bundles (the version is the bundle's), its status, and
pause, resume and abort; refusals name the reason. The verbs are attached to the `centre
updates` group as the lead's wiring does (`add_rollout_parsers`)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any, cast

import pytest
from sqlalchemy import insert

from centre.store import open_centre_database
from centre.store.schema import fleet_boxes
from centre.updates.tuf_repository import TufRepository
from edge.cli import centre_updates_cmd, main
from edge.cli.centre_rollout_cmd import add_rollout_parsers
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY

TARGET = "carec-edge-1.5.0.raucb"


@pytest.fixture
def centre_config(fleet: Fleet, tmp_path: Path) -> Path:
    repository, keys = tmp_path / "repository", tmp_path / "keys"
    TufRepository.init(repository, keys)
    bundle = tmp_path / TARGET
    bundle.write_bytes(b"a bundle's bytes")
    TufRepository(repository, keys).publish(bundle, version="1.5.0")
    database = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    path = tmp_path / "centre.toml"
    path.write_text(
        f'[centre]\nid = "{CENTRE}"\ndatabase = "{database}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes[CENTRE]}"\ntrust_store = "{fleet.trust_store}"\n'
        f'[updates]\nrepository = "{repository}"\nkeys_dir = "{keys}"\n',
        encoding="utf-8",
    )  # fmt: skip
    engine = open_centre_database(database)
    with engine.begin() as conn:
        conn.execute(insert(fleet_boxes), [
            {"node_id": n, "serial": f"SN-{n}", "state": "enrolled", "created_at": utcnow()}
            for n in (NURZHOLY, KORGAS)
        ])  # fmt: skip
    engine.dispose()
    return path


def rollout(config: Path, *args: str) -> int:
    parser = argparse.ArgumentParser(prog="carec-edge")
    commands = parser.add_subparsers(dest="command", required=True)
    centre = commands.add_parser("centre").add_subparsers(dest="centre_action", required=True)
    add_rollout_parsers(centre_updates_cmd.register_centre(centre, config))
    parsed = parser.parse_args(["centre", "updates", "rollout", "--operator", "farida", *args])
    code: int = parsed.handler(parsed, cast(Any, None))
    return code


def test_a_rollout_of_a_published_bundle_from_start_to_abort(
    centre_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollout(centre_config, "start", TARGET, "--all", "--phases", "1, 100%") == 0
    rollout_id = capsys.readouterr().out.strip()
    assert rollout(centre_config, "status", rollout_id, "--json") == 0
    whole = json.loads(capsys.readouterr().out)
    assert (whole["version"], whole["state"], whole["created_by"]) == ("1.5.0", "running", "farida")
    assert {b["node"]: b["state"] for b in whole["boxes"]} == {
        KORGAS: "commanded", NURZHOLY: "queued",
    }  # fmt: skip
    assert rollout(centre_config, "pause", rollout_id) == 0
    assert capsys.readouterr().out == f"{rollout_id}: paused\n"
    assert rollout(centre_config, "resume", rollout_id) == 0
    assert rollout(centre_config, "abort", rollout_id, "--reason", "wrong bundle") == 0
    capsys.readouterr()
    assert rollout(centre_config, "status") == 0
    listing = capsys.readouterr().out
    assert f"{rollout_id}  aborted  phase 1/2  {TARGET} (1.5.0)  wrong bundle" in listing


def test_refusals_name_their_reason(
    centre_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollout(centre_config, "start", "carec-edge-9.raucb", NURZHOLY) == 1
    assert "is not a bundle of the repository" in capsys.readouterr().err
    assert rollout(centre_config, "start", TARGET, NURZHOLY, "--version", "1.4.0") == 1
    assert "the repository's carec-edge-1.5.0.raucb is 1.5.0" in capsys.readouterr().err
    assert rollout(centre_config, "start", TARGET) == 1
    assert "boxes: name them, or --all" in capsys.readouterr().err
    assert rollout(centre_config, "start", TARGET, "KZ-NOWHERE-1") == 1
    assert "KZ-NOWHERE-1: not a box of this fleet" in capsys.readouterr().err
    assert rollout(centre_config, "resume", "019af6c2-5a3e-7c41-9d2b-0f5e6a7b8c9e") == 1
    assert "no such rollout" in capsys.readouterr().err


@pytest.mark.parametrize("verb", ["start", "status", "pause", "resume", "abort"])
def test_every_verb_explains_itself_through_carec_edge(
    verb: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["centre", "updates", "rollout", verb, "--help"])
    assert exited.value.code == 0
    assert f"carec-edge centre updates rollout {verb}" in capsys.readouterr().out


def test_the_status_through_carec_edge(
    centre_config: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert rollout(centre_config, "start", TARGET, NURZHOLY, "--phases", "100%") == 0
    rollout_id = capsys.readouterr().out.strip()
    code = main(["centre", "updates", "--config", str(centre_config), "rollout", "status"])
    assert code == 0
    assert f"{rollout_id}  running  phase 1/1  {TARGET} (1.5.0)" in capsys.readouterr().out
