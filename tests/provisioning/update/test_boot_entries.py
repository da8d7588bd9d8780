"""The slots' systemd-boot entries: names and counters, which slot boots next, and a new slot
that never passes its self-test falling behind the old one after its tries run out.

`boot()` renames an entry as systemd-boot 252 does when it starts it (config_entry_bump_counters:
`+LEFT-DONE` -> `+(LEFT-1)-(DONE+1)`); the firmware itself runs in the QEMU tests of tests/image.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from provisioning.update import boot_entries
from provisioning.update.boot_entries import BootEntryError, Verity

VERITY = Verity("0f" * 32, 40960, 40960)


def boot(esp: Path) -> str:
    """Start the slot systemd-boot would start and count the try; returns that slot."""
    first = boot_entries.boot_order(esp)[0]
    if first.tries_left is not None:
        left = max(first.tries_left - 1, 0)
        name = boot_entries.entry_name(first.slot, left, first.tries_done + 1)
        first.path.rename(first.path.with_name(name))
    return first.slot


def names(esp: Path) -> list[str]:
    return sorted(path.name for path in (esp / boot_entries.ENTRIES_DIR).iterdir())


@pytest.fixture
def esp(tmp_path: Path) -> Path:
    """The factory's ESP: A good and primary, B good."""
    esp = tmp_path / "esp"
    boot_entries.write_entry(esp, "A", "1.0.0", VERITY, tries=None)
    boot_entries.write_entry(esp, "B", "1.0.0", VERITY, tries=None)
    boot_entries.set_primary(esp, "A")
    return esp


def test_entry_names_carry_the_counter_as_the_boot_loader_specification_says() -> None:
    assert boot_entries.entry_name("A") == "carec-a.conf"
    assert boot_entries.entry_name("B", 3) == "carec-b+3-0.conf"
    assert boot_entries.entry_name("B", 0, 3) == "carec-b+0-3.conf"


def test_entry_holds_the_kernel_initrd_slot_and_verity_parameters(esp: Path) -> None:
    text = (esp / "loader/entries/carec-a.conf").read_text().splitlines()

    assert text[:2] == ["title carec-edge 1.0.0 (slot A)", "sort-key carec-1"]
    assert "linux /carec/a/vmlinuz" in text
    assert "initrd /carec/a/initrd.img" in text
    assert (
        "options rauc.slot=A carec.verity=PARTLABEL=carec-root-a "
        f"carec.roothash={'0f' * 32} carec.hashoffset=40960 carec.datasize=40960 "
        "root=/dev/mapper/root ro panic=10"
    ) in text


def test_factory_box_boots_a_and_counts_nothing(esp: Path) -> None:
    assert boot(esp) == "A"
    assert boot(esp) == "A"
    assert names(esp) == ["carec-a.conf", "carec-b.conf"]


def test_new_slot_boots_first_with_its_tries_counted(esp: Path) -> None:
    boot_entries.write_entry(esp, "B", "1.1.0", VERITY)
    boot_entries.set_primary(esp, "B")

    assert boot(esp) == "B"
    assert names(esp) == ["carec-a.conf", "carec-b+2-1.conf"]
    assert boot_entries.entry(esp, "B").state == "trying"


def test_new_slot_that_never_passes_falls_back_to_a_after_three_boots(esp: Path) -> None:
    boot_entries.write_entry(esp, "B", "1.1.0", VERITY)
    boot_entries.set_primary(esp, "B")

    booted = [boot(esp) for _ in range(5)]

    assert booted == ["B", "B", "B", "A", "A"]
    assert names(esp) == ["carec-a.conf", "carec-b+0-3.conf"]
    assert boot_entries.entry(esp, "B").bad
    assert boot_entries.primary(esp) == "A"


def test_self_test_blessing_keeps_the_new_slot_for_good(esp: Path) -> None:
    boot_entries.write_entry(esp, "B", "1.1.0", VERITY)
    boot_entries.set_primary(esp, "B")
    assert boot(esp) == "B"

    boot_entries.mark_good(esp, "B")

    assert [boot(esp) for _ in range(4)] == ["B"] * 4
    assert names(esp) == ["carec-a.conf", "carec-b.conf"]


def test_self_test_failure_marks_bad_and_the_next_boot_is_a(esp: Path) -> None:
    boot_entries.write_entry(esp, "B", "1.1.0", VERITY)
    boot_entries.set_primary(esp, "B")
    assert boot(esp) == "B"

    boot_entries.mark_bad(esp, "B")

    assert names(esp) == ["carec-a.conf", "carec-b+0-1.conf"]
    assert boot(esp) == "A"


def test_both_slots_bad_still_boots_the_primary(esp: Path) -> None:
    boot_entries.mark_bad(esp, "A")
    boot_entries.mark_bad(esp, "B")

    assert boot(esp) == "A"


def test_making_a_bad_slot_primary_gives_it_fresh_tries(esp: Path) -> None:
    boot_entries.mark_bad(esp, "B")

    boot_entries.set_primary(esp, "B")

    assert names(esp) == ["carec-a.conf", "carec-b+3-0.conf"]
    assert boot(esp) == "B"


def test_rewriting_an_entry_replaces_the_old_file_and_keeps_its_rank(esp: Path) -> None:
    boot_entries.mark_bad(esp, "B")  # what RAUC does before it writes the slot

    boot_entries.write_entry(esp, "B", "1.1.0", VERITY)

    assert names(esp) == ["carec-a.conf", "carec-b+3-0.conf"]
    assert boot_entries.primary(esp) == "A"  # until RAUC marks it active


def test_two_entries_for_one_slot_are_refused_by_name(esp: Path) -> None:
    (esp / "loader/entries/carec-b+1-2.conf").write_text("title stale\n")

    with pytest.raises(BootEntryError, match="two entries for slot B"):
        boot_entries.primary(esp)


def test_first_entry_on_an_empty_esp_is_primary_the_second_is_not(tmp_path: Path) -> None:
    boot_entries.write_entry(tmp_path, "A", "1.0.0", VERITY, tries=None)
    boot_entries.write_entry(tmp_path, "B", "1.0.0", VERITY, tries=None)

    assert boot_entries.primary(tmp_path) == "A"


def test_equal_sort_keys_fall_to_systemd_boots_own_order(esp: Path) -> None:
    """Newer version first, then the file name downwards (config_entry_compare)."""
    for entry in (esp / "loader/entries").iterdir():
        entry.write_text(entry.read_text().replace("sort-key carec-1", "sort-key carec-2"))
    assert boot_entries.primary(esp) == "B"  # same version: carec-b.conf > carec-a.conf

    boot_entries.write_entry(esp, "A", "1.10.0", VERITY, tries=None)
    assert boot_entries.primary(esp) == "A"  # 1.10.0 is newer than 1.0.0, not older


def test_other_entries_are_ignored(esp: Path) -> None:
    (esp / "loader/entries/debian-6.1.conf").write_text("title other\nsort-key a\n")

    assert boot_entries.primary(esp) == "A"


def test_loader_conf_selects_by_glob_because_the_id_carries_the_counter() -> None:
    conf = boot_entries.render_loader_conf()

    assert "default carec-*\n" in conf
    assert "editor no\n" in conf  # no editing the command line past verity at the console


@pytest.mark.parametrize(
    ("fields", "problem"),
    [
        ({"root_hash": "XY", "hash_offset": 4096, "data_size": 4096}, "64 lowercase hex"),
        ({"root_hash": "0f" * 32, "hash_offset": 4000, "data_size": 4000}, "4096-aligned"),
        ({"root_hash": "0f" * 32, "hash_offset": 4096, "data_size": 8192}, "overlaps"),
        ({"root_hash": "0f" * 32, "hash_offset": 4096}, "not a verity description"),
    ],
)
def test_a_bad_verity_description_is_refused_with_its_reason(
    tmp_path: Path, fields: dict[str, object], problem: str
) -> None:
    path = tmp_path / "rootfs.verity.json"
    path.write_text(json.dumps(fields))

    with pytest.raises(BootEntryError, match=problem):
        Verity.from_json(path)


def test_a_version_that_could_break_the_entry_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BootEntryError, match="version"):
        boot_entries.write_entry(tmp_path, "A", "1.0\noptions init=/bin/sh", VERITY)
