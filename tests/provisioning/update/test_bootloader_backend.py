"""The real RAUC 1.8 (its service on a private bus) driving the custom boot-loader backend,
image/rauc/bootloader-backend, over a directory standing in for the ESP: marking, activating,
and a whole install whose hook puts the new slot's kernel and boot entry on the ESP.

The host has no device-mapper, so RAUC cannot mount a verity bundle here; the install test
uses a plain bundle built by the same code (the box's system.conf accepts verity only).
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.update import boot_entries, rauc
from provisioning.update.boot_entries import Verity
from provisioning.update.bundle import Signer, build_bundle
from tests.provisioning.update.slot_box import (
    CAREC_EDGE,
    HOOK,
    Keys,
    RaucService,
    make_keys,
    make_slot_image,
    rauc_service,
    system_conf,
)

VERITY = Verity("ab" * 32, 8192, 8192)


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    return make_keys(tmp_path / "keys")


@pytest.fixture
def box(tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch) -> Iterator[RaucService]:
    """A factory-fresh box booted from A: A good and primary, B good behind it."""
    directory = tmp_path / "box"
    directory.mkdir()
    conf = system_conf(directory, keys.keyring, bundle_formats="plain")
    esp = directory / "esp"
    boot_entries.write_entry(esp, "A", "1.0.0", VERITY, tries=None)
    boot_entries.write_entry(esp, "B", "1.0.0", VERITY, tries=None)
    boot_entries.set_primary(esp, "A")
    with rauc_service(directory, conf, booted="A") as service:
        # provisioning.update.rauc talks to this service as it would to the box's
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", service.env["DBUS_SYSTEM_BUS_ADDRESS"])
        yield service


def entry_names(esp: Path) -> list[str]:
    return sorted(path.name for path in (esp / boot_entries.ENTRIES_DIR).iterdir())


def test_rauc_reads_the_factory_box_a_booted_and_primary_both_good(box: RaucService) -> None:
    status = rauc.slot_status(conf=box.conf)

    assert status.booted == "A"
    assert status.primary_bootname == "A"
    assert [(slot.bootname, slot.boot_status) for slot in status.slots] == [
        ("B", "good"),
        ("A", "good"),
    ]


def test_mark_active_other_makes_b_primary_and_back(box: RaucService) -> None:
    box.rauc("status", "mark-active", "other")
    assert boot_entries.primary(box.esp) == "B"
    assert rauc.slot_status(conf=box.conf).primary_bootname == "B"

    box.rauc("status", "mark-active", "booted")
    assert boot_entries.primary(box.esp) == "A"


def test_mark_bad_takes_the_slots_tries_and_it_falls_behind(box: RaucService) -> None:
    box.rauc("status", "mark-active", "other")

    box.rauc("status", "mark-bad", "other")

    assert entry_names(box.esp) == ["carec-a.conf", "carec-b+0-0.conf"]
    assert boot_entries.primary(box.esp) == "A"  # B is first by sort-key, but bad
    assert rauc.slot_status(conf=box.conf).slot("B").boot_status == "bad"


def test_mark_good_blesses_a_slot_on_trial(box: RaucService) -> None:
    boot_entries.write_entry(box.esp, "B", "1.1.0", VERITY, tries=2)
    box.rauc("status", "mark-active", "other")

    box.rauc("status", "mark-good", "other")

    assert entry_names(box.esp) == ["carec-a.conf", "carec-b.conf"]
    assert boot_entries.primary(box.esp) == "B"


def test_marking_a_slot_without_an_entry_fails_and_the_journal_has_the_reason(
    box: RaucService,
) -> None:
    (box.esp / boot_entries.ENTRIES_DIR / "carec-b.conf").unlink()

    result = box.rauc("status", "mark-good", "other", check=False)

    assert result.returncode != 0
    assert "custom backend" in result.stderr
    # RAUC 1.8 keeps the backend's stderr in its own log (the journal on the box)
    log = (box.conf.parent / "rauc-service.log").read_text()
    assert "slot B has no boot entry" in log


def test_install_writes_b_puts_its_kernel_on_the_esp_and_makes_it_primary_on_trial(
    tmp_path: Path, keys: Keys, box: RaucService
) -> None:
    image = make_slot_image(tmp_path, "1.1.0")
    bundle = build_bundle(
        image.rootfs,
        image.verity_json,
        tmp_path / "out",
        Signer(keys.cert, keys.key, keys.keyring),
        hook=HOOK,
        kernel_options="console=ttyS0",
        bundle_format="plain",
    )

    rauc.install_bundle(bundle, conf=box.conf)

    slot_b = box.conf.parent / "slot-b.img"
    assert slot_b.read_bytes()[: image.rootfs.stat().st_size] == image.rootfs.read_bytes()
    assert (box.esp / "carec/b/vmlinuz").read_bytes() == image.kernel
    assert (box.esp / "carec/b/initrd.img").read_bytes() == b"initrd of 1.1.0"
    assert entry_names(box.esp) == ["carec-a.conf", f"carec-b+{boot_entries.TRIES}-0.conf"]
    assert boot_entries.primary(box.esp) == "B"
    entry = (box.esp / boot_entries.ENTRIES_DIR / "carec-b+3-0.conf").read_text()
    verity = Verity.from_json(image.verity_json)
    assert "version 1.1.0\n" in entry
    assert f"carec.roothash={verity.root_hash} carec.hashoffset={verity.hash_offset}" in entry
    assert "rauc.slot=B carec.verity=PARTLABEL=carec-root-b" in entry
    assert entry.rstrip().endswith("console=ttyS0")
    status = rauc.slot_status(conf=box.conf)
    assert (status.primary_bootname, status.slot("B").boot_status) == ("B", "good")


def test_a_bundle_from_another_country_is_not_installed_and_the_box_is_unchanged(
    tmp_path: Path, box: RaucService
) -> None:
    stranger = make_keys(tmp_path / "stranger", country="UZ")
    image = make_slot_image(tmp_path, "6.6.6")
    bundle = build_bundle(
        image.rootfs,
        image.verity_json,
        tmp_path / "out",
        Signer(stranger.cert, stranger.key),
        hook=HOOK,
        bundle_format="plain",
    )

    with pytest.raises(rauc.UpdateInstallError, match="signature verification failed"):
        rauc.install_bundle(bundle, conf=box.conf)

    assert entry_names(box.esp) == ["carec-a.conf", "carec-b.conf"]
    assert boot_entries.primary(box.esp) == "A"
    assert not (box.esp / "carec").exists()


def test_the_boxs_own_conf_refuses_a_plain_bundle(
    tmp_path: Path, keys: Keys, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On the box only verity bundles install: their payload is checked block by block as it is
    written, where a plain bundle's is checked once and then read again."""
    directory = tmp_path / "strict"
    directory.mkdir()
    conf = system_conf(directory, keys.keyring)  # image/rauc/system.conf as shipped
    image = make_slot_image(tmp_path, "1.1.0")
    signer = Signer(keys.cert, keys.key, keys.keyring)
    bundle = build_bundle(
        image.rootfs, image.verity_json, tmp_path / "out", signer, hook=HOOK, bundle_format="plain"
    )
    with rauc_service(directory, conf) as service:
        monkeypatch.setenv("DBUS_SYSTEM_BUS_ADDRESS", service.env["DBUS_SYSTEM_BUS_ADDRESS"])

        with pytest.raises(rauc.UpdateInstallError, match="Bundle format 'plain' not allowed"):
            rauc.install_bundle(bundle, conf=conf)


def test_carec_edge_update_install_verifies_installs_and_records_rebooting(
    tmp_path: Path, keys: Keys, box: RaucService
) -> None:
    image = make_slot_image(tmp_path, "1.1.0")
    signer = Signer(keys.cert, keys.key, keys.keyring)
    bundle = build_bundle(
        image.rootfs, image.verity_json, tmp_path / "out", signer, hook=HOOK, bundle_format="plain"
    )
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    command = [str(CAREC_EDGE), "--data-dir", str(data_dir), "update"]

    installed = subprocess.run(
        [*command, "install", "--rauc-conf", str(box.conf), str(bundle)],
        env=box.env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    status = subprocess.run(
        [*command, "status", "--json", "--esp", str(box.esp)],
        env=box.env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert installed.returncode == 0, installed.stderr
    assert "installed 1.1.0 to the other slot" in installed.stdout
    shown = json.loads(status.stdout)
    assert shown["primary"] == "B"
    assert shown["slots"][0] == {
        "slot": "B",
        "state": "trying",
        "tries_left": 3,
        "entry": "carec-b+3-0.conf",
    }
    assert (shown["update"]["phase"], shown["update"]["version"]) == ("rebooting", "1.1.0")
