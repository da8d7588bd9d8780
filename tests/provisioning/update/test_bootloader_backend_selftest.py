"""The self-test gate after a boot, with the real RAUC service and backend: a new slot that passes
is blessed, one that fails is marked bad and the box falls back to the other slot, and a boot
on the old slot after the new one ran out of tries records the rollback with its reason.

The service-readiness check asks systemd, which runs only in the booted image (tests/image);
here the gate gets the store, device and sync checks on real files and databases.
"""

from __future__ import annotations

import os
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from edge.store import open_database
from edge.store.database import DATABASE_NAME
from provisioning.update import boot_entries, rauc, selftest
from provisioning.update.boot_entries import Verity
from provisioning.update.selftest import Box, Check
from provisioning.update.state import UpdateState, read_state, write_state
from tests.provisioning.update.slot_box import RaucService, make_keys, rauc_service, system_conf

VERITY = Verity("cd" * 32, 8192, 8192)


def passing() -> list[Check]:
    return [Check("service", True, "carec-edge.service active and ready")]


def failing() -> list[Check]:
    return [
        Check("service", False, "carec-edge.service is failed/failed after 240 s"),
        Check("store", True, "quick check ok"),
    ]


class Reboots:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self) -> None:
        self.count += 1


def make_box(tmp_path: Path, service: RaucService, booted: str, version: str) -> Box:
    (tmp_path / "cmdline").write_text(f"BOOT_IMAGE=/carec/b/vmlinuz rauc.slot={booted} ro\n")
    (tmp_path / "os-release").write_text(f'ID=debian\nIMAGE_VERSION="{version}"\n')
    state_dir = tmp_path / "state"
    state_dir.mkdir(exist_ok=True)
    return Box(
        esp=service.esp,
        state_dir=state_dir,
        cmdline=tmp_path / "cmdline",
        os_release=tmp_path / "os-release",
        rauc_conf=service.conf,
        reboot=Reboots(),
    )


@pytest.fixture
def updated(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[RaucService]:
    """Slot B was just installed (1.1.0, on trial, primary) and the box booted it once."""
    directory = tmp_path / "box"
    directory.mkdir()
    keys = make_keys(tmp_path / "keys")
    conf = system_conf(directory, keys.keyring)
    esp = directory / "esp"
    boot_entries.write_entry(esp, "A", "1.0.0", VERITY, tries=None)
    boot_entries.write_entry(esp, "B", "1.1.0", VERITY, tries=2)
    (esp / "loader/entries/carec-b+2-0.conf").rename(esp / "loader/entries/carec-b+2-1.conf")
    boot_entries.set_primary(esp, "B")
    with rauc_service(directory, conf, booted="B") as service:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", service.env["DBUS_SYSTEM_BUS_ADDRESS"])
        yield service


def rebooting(box: Box, version: str = "1.1.0") -> None:
    state = UpdateState(phase="rebooting", target="carec-edge-1.1.0.raucb", version=version)
    write_state(box.state_dir, state.model_copy(update={"booted_slot": "A", "rollout": "r-7"}))


def test_new_slot_passing_its_self_test_is_blessed_and_reported_good(
    tmp_path: Path, updated: RaucService
) -> None:
    box = make_box(tmp_path, updated, "B", "1.1.0")
    rebooting(box)

    verdict = selftest.gate(box, passing)

    assert verdict.outcome == "good"
    assert boot_entries.entry(box.esp, "B").state == "good"
    assert rauc.slot_status(conf=box.rauc_conf).slot("B").boot_status == "good"
    state = read_state(box.state_dir)
    assert (state.phase, state.version, state.booted_slot, state.rollout) == (
        "good",
        "1.1.0",
        "B",
        "r-7",
    )
    assert isinstance(box.reboot, Reboots)
    assert box.reboot.count == 0


def test_new_slot_failing_its_self_test_falls_back_to_a_and_says_why(
    tmp_path: Path, updated: RaucService
) -> None:
    box = make_box(tmp_path, updated, "B", "1.1.0")
    rebooting(box)

    verdict = selftest.gate(box, failing)

    assert verdict.outcome == "rolled_back"
    assert boot_entries.entry(box.esp, "B").bad
    assert boot_entries.primary(box.esp) == "A"
    state = read_state(box.state_dir)
    assert state.phase == "rolled_back"
    assert state.reason.startswith("self-test failed on slot B (1.1.0): service: FAILED")
    assert "store" not in state.reason  # only what failed
    assert isinstance(box.reboot, Reboots)
    assert box.reboot.count == 1


def test_after_the_fallback_the_old_slot_keeps_the_reason_and_gates_nothing(
    tmp_path: Path, updated: RaucService
) -> None:
    box = make_box(tmp_path, updated, "B", "1.1.0")
    rebooting(box)
    selftest.gate(box, failing)
    reason = read_state(box.state_dir).reason
    on_a = make_box(tmp_path, updated, "A", "1.0.0")

    verdict = selftest.gate(on_a, failing)  # checks are not even run on a good slot

    assert verdict.outcome == "nothing_on_trial"
    state = read_state(box.state_dir)
    assert (state.phase, state.reason, state.booted_slot) == ("rolled_back", reason, "A")


def test_slot_whose_tries_ran_out_is_recorded_as_rolled_back_on_the_old_slot(
    tmp_path: Path, updated: RaucService
) -> None:
    entries = updated.esp / "loader/entries"
    (entries / "carec-b+2-1.conf").rename(entries / "carec-b+0-3.conf")  # three boots, no gate
    box = make_box(tmp_path, updated, "A", "1.0.0")
    rebooting(box)

    verdict = selftest.gate(box, failing)

    assert verdict.outcome == "nothing_on_trial"
    state = read_state(box.state_dir)
    assert state.phase == "rolled_back"
    assert state.reason == (
        "slot B (1.1.0) failed after 3 boot(s) without passing its self-test; "
        "running slot A (1.0.0) again"
    )
    assert state.rollout == "r-7"


def test_an_install_cut_short_is_recorded_as_failed(tmp_path: Path, updated: RaucService) -> None:
    box = make_box(tmp_path, updated, "A", "1.0.0")
    boot_entries.mark_good(box.esp, "A")
    write_state(box.state_dir, UpdateState(phase="installing", version="1.1.0"))

    selftest.gate(box, failing)

    state = read_state(box.state_dir)
    assert (state.phase, state.reason) == (
        "failed",
        "the install of 1.1.0 was cut short by a restart",
    )


def test_store_check_opens_the_real_store_and_names_a_damaged_one(tmp_path: Path) -> None:
    open_database(tmp_path / "good").dispose()
    assert selftest.check_store(tmp_path / "good").ok

    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / DATABASE_NAME).write_bytes(b"SQLite format 3\0" + bytes(200))

    check = selftest.check_store(damaged)

    assert not check.ok
    assert check.detail.startswith("cannot open")


def test_root_checks_the_store_as_its_owner_so_the_service_can_open_it_again() -> None:
    """The self-test runs as root; a journal or WAL file it left behind owned by root would
    lock the service (its own user) out of its store."""
    if os.geteuid() != 0:
        pytest.fail("this test needs root, as the self-test on the box has")
    data_dir = Path(tempfile.mkdtemp(prefix="carec-selftest-"))  # /tmp: any user may enter
    try:
        os.chown(data_dir, 65534, 65534)

        assert selftest.check_store(data_dir).ok
        assert selftest.check_sync(data_dir, booted_at=0.0).ok

        owners = {(path.stat().st_uid, path.stat().st_gid) for path in data_dir.iterdir()}
        assert owners == {(65534, 65534)}
        assert os.geteuid() == 0
    finally:
        shutil.rmtree(data_dir)


def test_a_missing_store_directory_fails_the_checks(tmp_path: Path) -> None:
    assert not selftest.check_store(tmp_path / "nowhere").ok
    assert not selftest.check_sync(tmp_path / "nowhere", booted_at=0.0).ok


def test_devices_check_names_a_missing_serial_port() -> None:
    assert selftest.check_devices([("mrz-1", "/dev/null"), ("cam-1", "rtsp://cam/1")]).ok
    check = selftest.check_devices([("mrz-1", "/dev/ttyUSB-carec-missing")])
    assert not check.ok
    assert check.detail == "missing mrz-1 (/dev/ttyUSB-carec-missing)"


def test_sync_check_counts_a_queue_as_queued(tmp_path: Path) -> None:
    open_database(tmp_path).dispose()

    check = selftest.check_sync(tmp_path, booted_at=0.0)

    assert (check.ok, check.detail) == (True, "queued; 0 waiting")


def test_sync_check_fails_when_the_outbox_cannot_be_read(tmp_path: Path) -> None:
    open_database(tmp_path).dispose()
    with sqlite3.connect(tmp_path / DATABASE_NAME) as conn:
        conn.execute("DROP TABLE outbox")

    check = selftest.check_sync(tmp_path, booted_at=0.0)

    assert not check.ok
