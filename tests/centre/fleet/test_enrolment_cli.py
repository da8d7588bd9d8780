"""Enrolment from the command line against the centre as `carec-edge centre run` builds it
(CentreService, its API on a loopback port): the operator's `centre fleet register | pending |
approve | revoke` and the box's `fleet enrol`, each through `carec-edge`'s own main."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from centre.config import load_centre_config
from centre.fleet.revocation import load_crl
from centre.service import CentreService
from edge.cli import main
from edge.config import load_config
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import CENTRE

ALTYNKOL, DOSTYK = "KZ-ALTYNKOL-1", "KZ-DOSTYK-1"
UPDATE_URL = "https://centre.kz.example:8445/updates/v1"


@pytest.fixture
def centre_config(fleet: Fleet, tmp_path: Path) -> Path:
    path = tmp_path / "centre.toml"
    path.write_text(
        f'[centre]\nid = "KZ-CIS"\ndatabase = "sqlite:///{tmp_path / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes[CENTRE]}"\ntrust_store = "{fleet.trust_store}"\n'
        '[api]\nport = 0\n'
        f'[fleet.enrolment]\nca_dir = "{fleet.root / "ca-KZ"}"\ncrl_file = "{tmp_path / "crl.pem"}"\n'
        f'update_url = "{UPDATE_URL}"\n'
        '[[fleet.enrolment.box_peers]]\nname = "centre"\nhost = "broker.kz.example"\n'
        'destinations = ["KZ-*"]\n',
        encoding="utf-8",
    )  # fmt: skip
    return path


@pytest.fixture
def centre_url(centre_config: Path) -> Iterator[tuple[CentreService, str]]:
    service = CentreService.build(load_centre_config(centre_config))
    service.start()
    try:
        assert service.api_listening.wait(30)
        yield service, f"http://127.0.0.1:{service.api_port}"
    finally:
        service.close()


def box_config(tmp_path: Path, node: str) -> Path:
    path = tmp_path / f"{node}.toml"
    path.write_text(
        f'[node]\nid = "{node}"\n[store]\ndata_dir = "{tmp_path / node / "data"}"\n'
        f'[sync]\nidentity_dir = "{tmp_path / node / "identity"}"\n'
        f'trust_store = "{tmp_path / node / "etc" / "trust.toml"}"\n',
        encoding="utf-8",
    )
    return path


def fleet_cmd(config: Path, *args: str) -> int:
    return main(["centre", "fleet", "--config", str(config), "--operator", "olga", *args])


def test_an_operator_and_two_boxes_enrol_and_revoke_from_the_command_line(
    centre_url: tuple[CentreService, str], centre_config: Path, tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:  # fmt: skip
    service, url = centre_url
    assert fleet_cmd(centre_config, "register", ALTYNKOL, "SN-A1") == 0
    assert f"{ALTYNKOL}: registered" in capsys.readouterr().out

    registered = box_config(tmp_path, ALTYNKOL)
    assert (
        main(["--config", str(registered), "fleet", "enrol", "--centre", url, "--serial", "SN-A1"])
        == 0
    )
    out = capsys.readouterr().out
    assert "enrolment code:" in out
    assert "enrolled:" in out
    assert (tmp_path / ALTYNKOL / "identity" / NODE_CERT).exists()
    assert "fleet.update_url" in out  # where it fetches updates, from the centre's answer
    assert load_config(registered).fleet.update_url == UPDATE_URL

    waiting = box_config(tmp_path, DOSTYK)
    enrol = ["--config", str(waiting), "fleet", "enrol", "--centre", url, "--serial", "SN-D1"]
    assert main([*enrol, "--no-wait"]) == 0
    out = capsys.readouterr().out
    assert f"{DOSTYK}: pending" in out
    code = out.split("enrolment code: ")[1].split()[0]
    assert fleet_cmd(centre_config, "pending") == 0
    assert f"{DOSTYK}  serial SN-D1  code {code}" in capsys.readouterr().out
    assert fleet_cmd(centre_config, "approve", DOSTYK) == 0
    assert main(enrol) == 0  # asks again: enrolled, installs
    assert (tmp_path / DOSTYK / "identity" / NODE_CERT).exists()

    with pytest.raises(SystemExit, match="2"):  # --reason is required
        fleet_cmd(centre_config, "revoke", ALTYNKOL)
    capsys.readouterr()
    assert fleet_cmd(centre_config, "revoke", ALTYNKOL, "--reason", "stolen") == 0
    assert f"{ALTYNKOL}: revoked" in capsys.readouterr().out
    assert len(list(load_crl(tmp_path / "crl.pem"))) == 1
    # The running centre refuses it from its next refresh (the CLI is another process).
    assert service.revocations is not None
    assert not service.revocations.keys.trust.revoked.serials
    service.enrolment_jobs()
    assert len(service.revocations.keys.trust.revoked.serials) == 1
    assert fleet_cmd(centre_config, "approve", ALTYNKOL) == 1
    assert "only a pending box is approved" in capsys.readouterr().err
