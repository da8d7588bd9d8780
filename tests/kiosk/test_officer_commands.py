"""`carec-edge kiosk officer ...` as the technician types it: officers are listed, deactivated
(they can no longer log in) and given a new PIN read from stdin, never from the command line;
the demo officers, whose PINs are public, go only into a data directory the demo made."""

from __future__ import annotations

import resource
import subprocess
import sys
from pathlib import Path

from edge.officers import (
    DEMO_MARKER,
    OfficerStore,
    Role,
    is_demo_data_dir,
    mark_demo_data_dir,
)
from edge.store import open_database


def carec(data_dir: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(data_dir), "kiosk", *args],
        input=stdin, capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def officers(data_dir: Path) -> OfficerStore:
    return OfficerStore(open_database(data_dir))


def test_an_officer_is_added_listed_deactivated_and_can_no_longer_log_in(tmp_path: Path) -> None:
    data = tmp_path / "data"
    added = carec(data, "officer", "add", "aliya", "--name", "Алия Серикова",
                  "--badge", "BADGE-0100", stdin="24681357\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    assert officers(data).verify("aliya", "24681357") is not None
    listed = carec(data, "officer", "list")
    assert listed.returncode == 0, listed.stderr
    [row] = [line.split() for line in listed.stdout.splitlines() if line.startswith("aliya")]
    assert row == ["aliya", "officer", "BADGE-0100", "en", "active"]

    gone = carec(data, "officer", "deactivate", "aliya")
    assert gone.returncode == 0, gone.stderr
    store = officers(data)
    assert store.verify("aliya", "24681357") is None
    assert store.verify("BADGE-0100", "24681357") is None
    [row] = [line.split() for line in carec(data, "officer", "list").stdout.splitlines()
             if line.startswith("aliya")]  # fmt: skip
    assert row[-1] == "deactivated"
    unknown = carec(data, "officer", "deactivate", "nobody")
    assert unknown.returncode == 1
    assert "no officer 'nobody'" in unknown.stderr


def test_a_new_pin_is_read_from_stdin_replaces_the_old_and_is_never_printed(
    tmp_path: Path,
) -> None:
    data = tmp_path / "data"
    officers(data).create("marat", "Марат Ахметов", "11112222", Role.SUPERVISOR)
    reset = carec(data, "officer", "reset-pin", "marat", stdin="97531864\n")
    assert reset.returncode == 0, reset.stderr
    assert "97531864" not in reset.stdout + reset.stderr
    store = officers(data)
    assert store.verify("marat", "97531864") is not None
    assert store.verify("marat", "11112222") is None
    short = carec(data, "officer", "reset-pin", "marat", stdin="12\n")
    assert short.returncode == 1
    assert "pin: must be 4 to 12 digits" in short.stderr
    assert officers(data).verify("marat", "97531864") is not None  # unchanged
    unknown = carec(data, "officer", "reset-pin", "nobody", stdin="97531864\n")
    assert unknown.returncode == 1
    assert "no officer 'nobody'" in unknown.stderr


def test_demo_officers_are_refused_in_a_data_directory_the_demo_did_not_make(
    tmp_path: Path,
) -> None:
    data = tmp_path / "box"
    officers(data).create("aliya", "Алия Серикова", "24681357")
    refused = carec(data, "--demo-officers", "--port", "1")
    assert refused.returncode == 2, refused.stderr
    assert "was not made by `carec-edge demo`" in refused.stderr
    assert DEMO_MARKER in refused.stderr
    assert [o.id for o in officers(data).all()] == ["aliya"]  # no supervisor with a known PIN


def test_only_a_directory_with_the_demo_marker_takes_demo_officers(tmp_path: Path) -> None:
    plain, demo = tmp_path / "plain", tmp_path / "demo"
    plain.mkdir()
    mark_demo_data_dir(demo)  # what `carec-edge demo` does to each data directory it makes
    assert (is_demo_data_dir(plain), is_demo_data_dir(demo)) == (False, True)


def _with_memory_cap() -> None:
    # 1 GiB of address space: far above the command's need, and an unbounded read of
    # /dev/zero hits it in a second instead of taking the machine's memory.
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))


def test_a_pin_piped_from_dev_zero_is_a_clear_error_and_nothing_changes(tmp_path: Path) -> None:
    data = tmp_path / "data"
    officers(data).create("marat", "Марат Ахметов", "11112222", Role.SUPERVISOR)
    command = [sys.executable, "-m", "edge.cli", "--data-dir", str(data), "kiosk", "officer"]
    for args in (["reset-pin", "marat"], ["add", "aigul", "--name", "Aigul", "--role", "officer"]):
        with open("/dev/zero", "rb") as zeros:
            done = subprocess.run(
                [*command, *args], stdin=zeros, capture_output=True, text=True, check=False,
                timeout=120, preexec_fn=_with_memory_cap,
            )  # fmt: skip
        assert done.returncode == 1, done.stderr
        assert "Traceback" not in done.stderr, done.stderr
        assert "pin: stdin: the first line is over 64 characters" in done.stderr
    store = officers(data)
    assert store.verify("marat", "11112222") is not None  # unchanged
    assert store.get("aigul") is None
