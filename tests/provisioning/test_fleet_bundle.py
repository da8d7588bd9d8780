"""Where no link exists, the fleet's messages travel as signed file bundles like every other:
a twin change and a command exported by the centre and imported on the box with the appliers
`carec-edge sync import` would use (`edge.service.fleet_agent.offline_appliers`)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from edge.cli import main
from edge.config import load_config
from edge.manifest_cache import ManifestCache
from edge.service.fleet_agent import offline_appliers
from edge.store import open_database
from provisioning.fleet.status import fleet_status
from provisioning.identity.fleet import make_fleet
from sync.bundle import export_bundle
from sync.bundle_import import import_bundle
from sync.outbox import Outbox, Route, Signer
from sync.setup import build_sync
from tests.provisioning.fleet_box import BOX, CENTRE, box_toml, command, twin


def test_a_twin_change_and_a_command_arrive_in_a_file_bundle(tmp_path: Path) -> None:
    fleet = make_fleet(tmp_path / "fleet", [BOX, CENTRE])
    config_path = tmp_path / "carec-edge.toml"
    config_path.write_text(box_toml(fleet), encoding="utf-8")
    config = load_config(config_path)
    centre = Outbox(
        open_database(tmp_path / "centre"), Signer.load(fleet.nodes[CENTRE], CENTRE),
        [Route("*", "usb")],
    )  # fmt: skip
    waiting = command("self_test")
    centre.send(twin(4, {"matching": {"max_candidates": 7}}), BOX)
    centre.send(waiting, BOX)
    bundle = tmp_path / "to-box.bundle"
    export_bundle(centre, "usb", bundle)
    engine = open_database(tmp_path / "box")

    parts = build_sync(
        config.sync, BOX, engine, ManifestCache(engine),
        extra_appliers=offline_appliers(config, config_path, engine),
    )  # fmt: skip
    report = import_bundle(parts.inbox, bundle)

    assert report.complete, report.problems()
    _applied_on_the_box(fleet.nodes[BOX], config_path, engine, waiting.command_id)


def _applied_on_the_box(identity: Path, config_path: Path, engine: Engine, command_id: str) -> None:
    assert load_config(config_path).matching.max_candidates == 7
    status = fleet_status(engine, identity, CENTRE)
    assert (status.twin_desired_version, status.twin_state) == (4, "applying")
    assert [c.command_id for c in status.pending_commands] == [command_id]


def test_carec_edge_sync_import_applies_the_fleets_messages_of_a_bundle(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    fleet = make_fleet(tmp_path / "fleet", [BOX, CENTRE])
    config_path = tmp_path / "carec-edge.toml"
    config_path.write_text(box_toml(fleet), encoding="utf-8")
    centre = Outbox(
        open_database(tmp_path / "centre"), Signer.load(fleet.nodes[CENTRE], CENTRE),
        [Route("*", "usb")],
    )  # fmt: skip
    waiting = command("self_test")
    centre.send(twin(4, {"matching": {"max_candidates": 7}}), BOX)
    centre.send(waiting, BOX)
    bundle = tmp_path / "to-box.bundle"
    export_bundle(centre, "usb", bundle)

    status = main(["--config", str(config_path), "--data-dir", str(tmp_path / "box"),
                   "sync", "import", str(bundle)])  # fmt: skip

    assert status == 0, capsys.readouterr().err
    engine = open_database(tmp_path / "box")
    _applied_on_the_box(fleet.nodes[BOX], config_path, engine, waiting.command_id)
