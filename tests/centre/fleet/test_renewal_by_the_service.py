"""A box renews its certificate by itself: `carec-edge fleet enrol` writes into its
configuration where (the centre's URL) and as which serial it enrolled, and the service's
renewal task (`edge.service.fleet_renewal.renew_once`) asks there when the certificate ends
within `[fleet] renew_within_days`, or when a key rotation waits, with no operator."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509

from edge.cli import main
from edge.config import Config, load_config
from edge.service.fleet_renewal import renew_once, renew_when_due
from provisioning.fleet import key_rotation
from provisioning.identity.csr import NODE_CERT
from provisioning.identity.keys import raw_public_key
from tests.centre.conftest import CENTRE, Centre
from tests.centre.fleet.test_enrolment import Enrolling, make_enrolling

BOX, SERIAL = "KZ-DOSTYK-1", "SN-DOSTYK-7"


@pytest.fixture
def enrolling(centre: Centre, tmp_path: Path) -> Iterator[Enrolling]:
    # Certificates of 20 days that the centre renews within 30: due as soon as issued.
    yield from make_enrolling(centre, tmp_path, box_certificate_days=20, renew_within_days=30)


def enrolled_box(enrolling: Enrolling, tmp_path: Path) -> Path:
    """A box enrolled through `carec-edge fleet enrol` (pre-registered serial); its config."""
    config = tmp_path / "box.toml"
    config.write_text(
        f'[node]\nid = "{BOX}"\n[kiosk]\nenabled = false\n'
        f'[sync]\nidentity_dir = "{tmp_path / "identity"}"\n'
        f'trust_store = "{tmp_path / "etc" / "trust.toml"}"\n',
        encoding="utf-8",
    )
    enrolling.enrolments.register(BOX, SERIAL, operator="olga")
    status = main(["--config", str(config), "--data-dir", str(tmp_path / "data"), "fleet",
                   "enrol", "--centre", enrolling.url, "--serial", SERIAL, "--no-wait"])  # fmt: skip
    assert status == 0
    return config


def certificate(config: Path) -> x509.Certificate:
    identity = load_config(config).sync.identity_dir
    return x509.load_pem_x509_certificate((identity / NODE_CERT).read_bytes())


def test_enrolment_tells_the_box_where_to_renew_and_the_service_renews_when_due(
    enrolling: Enrolling, tmp_path: Path
) -> None:
    config_path = enrolled_box(enrolling, tmp_path)
    config = load_config(config_path)
    assert (config.fleet.centre_url, config.fleet.serial) == (enrolling.url, SERIAL)
    assert config.fleet.report_to == CENTRE
    assert [peer.name for peer in config.sync.peers] == ["centre"]
    first = certificate(config_path)

    not_yet = config.model_copy(
        update={"fleet": config.fleet.model_copy(update={"renew_within_days": 5})}
    )
    assert renew_once(not_yet) is None  # 20 days left, renewed within 5: nothing asked
    assert certificate(config_path).serial_number == first.serial_number

    assert renew_once(config) == "renewal"  # within 30 days of its end
    renewed = certificate(config_path)
    assert renewed.serial_number != first.serial_number
    assert raw_public_key(renewed.public_key()) == raw_public_key(first.public_key())  # type: ignore[arg-type]
    assert enrolling.state(BOX) == "enrolled"


def test_a_waiting_key_rotation_is_completed_by_the_service(
    enrolling: Enrolling, tmp_path: Path
) -> None:
    config_path = enrolled_box(enrolling, tmp_path)
    config = load_config(config_path)
    first = certificate(config_path)
    key_rotation.start(config.sync.identity_dir, BOX)  # what the rotate_key command does

    assert renew_once(config) == "rotation"
    rotated = certificate(config_path)
    assert raw_public_key(rotated.public_key()) != raw_public_key(first.public_key())  # type: ignore[arg-type]
    assert not (config.sync.identity_dir / key_rotation.NEXT_CSR).exists()


def test_a_box_not_enrolled_or_without_a_centre_asks_nothing(tmp_path: Path) -> None:
    config = tmp_path / "box.toml"
    config.write_text(
        f'[node]\nid = "{BOX}"\n[sync]\nidentity_dir = "{tmp_path / "identity"}"\n'
        '[fleet]\ncentre_url = "http://127.0.0.1:9"\n',  # nothing listens: never asked
        encoding="utf-8",
    )
    assert renew_once(load_config(config)) is None


@dataclass
class RenewingService:
    """What the renewal task uses of the service: its configuration, and a restart."""

    config: Config
    restarts: list[str] = field(default_factory=list)

    def restart(self, reason: str) -> None:
        self.restarts.append(reason)


def test_a_revoked_box_logs_that_renewal_failed_never_the_operators_reason(
    enrolling: Enrolling, tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    config_path = enrolled_box(enrolling, tmp_path)
    enrolling.enrolments.revoke(BOX, operator="olga", reason="taken home by Ivan Petrov")
    service = RenewingService(load_config(config_path))
    capfd.readouterr()
    logged: list[str] = []  # the service's log lines (edge.logs writes them to stderr)

    async def until_it_failed() -> None:
        task = asyncio.create_task(renew_when_due(service))  # type: ignore[arg-type]
        while "fleet.renewal_" not in "".join(logged):
            if task.done():
                task.result()
            await asyncio.sleep(0.05)  # polls the log the task writes from its thread
            logged.append(capfd.readouterr().err)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(asyncio.wait_for(until_it_failed(), 60))

    text = "".join(logged)
    assert "fleet.renewal_failed" in text
    assert "is not an enrolled box; it cannot renew" in text  # the centre's words, not olga's
    assert "Ivan Petrov" not in text
    assert service.restarts == []
