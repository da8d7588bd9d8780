"""Hostile and clumsy config files: `config check` names the file and what is wrong, in bounded
time and memory, and refuses exactly what `run` would refuse at start; a command given such a
file or data directory prints that message, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.hostile.cli import MEMORY_BOUND_MB, carec_edge


def config_file(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "carec-edge.toml"
    path.write_bytes(text.encode() if isinstance(text, str) else text)
    return path


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'[node]\nid = "KZ-\xff\xfe-1"\n', "not UTF-8 text (byte 16)"),
        ("a = " + "[" * 100_000 + "]" * 100_000, "nested 100000 levels deep; at most 32 allowed"),
        ("a = " + "{b=" * 50_000 + "1" + "}" * 50_000, "nested 50000 levels deep"),
        ("a" + ".a" * 200_000 + " = 1\n", "200000 dots in keys and values; at most 2000"),
        ("".join(f"[t{'.t' * i}]\n" for i in range(700)), "dots in keys and values"),
        ("# " + "x" * (2 << 20), "larger than 1048576 bytes"),
    ],
    ids=["not-utf8", "nested-arrays", "nested-tables", "dotted-key-bomb", "table-bomb", "huge"],
)
def test_a_hostile_file_is_refused_in_bounded_memory(
    tmp_path: Path, content: str | bytes, reason: str
) -> None:
    path = config_file(tmp_path, content)
    run = carec_edge("config", "check", str(path))
    run.assert_clean_failure()
    assert run.status == 1
    assert run.err.startswith(f"{path}: ")
    assert reason in run.err
    assert run.peak_mb < MEMORY_BOUND_MB
    # Any other command given the file says the same, and stops.
    used = carec_edge("--config", str(path), "manifests", "show", "X", data_dir=tmp_path / "d")
    used.assert_clean_failure()
    assert used.status == 2
    assert reason in used.err


def test_an_endless_device_is_no_config(tmp_path: Path) -> None:
    run = carec_edge("config", "check", "/dev/zero")
    run.assert_clean_failure()
    assert run.err == "/dev/zero: larger than 1048576 bytes; a config is a few KB\n"
    assert run.peak_mb < MEMORY_BOUND_MB


# What `run` refused, or could not live with, though `config check` passed it.
RUN_REFUSED = [
    ('[kiosk]\ntimezone = "Mars/Olympus_Mons"\n', "kiosk.timezone"),
    ('[kiosk]\ntimezone = "../../etc/passwd"\n', "kiosk.timezone"),
    ('[kiosk]\ndefault_language = "xx"\n', "kiosk.default_language"),
    ("[service]\npurge_interval_minutes = 1e-300\n", "service.purge_interval_minutes"),
    ("[sync]\nredeliver_after_s = 1e-300\n", "sync.redeliver_after_s"),
    ("[matching]\nlate_hours = inf\n", "matching.late_hours"),
    ("[matching]\nearly_hours = nan\n", "matching.early_hours"),
    ("[matching]\nearly_hours = 1e300\n", "matching.early_hours"),
    ("[sync]\ntelemetry_cap = 9223372036854775807\n", "sync.telemetry_cap"),
    ('[store]\ndata_dir = "a\\u0000b"\n', "store.data_dir"),
    ('[store]\ndata_dir = ""\n', "store.data_dir"),
    (
        '[[sync.peers]]\nname = "cis"\nhost = "h"\nca_file = "/nonexistent/ca.crt"\n'
        'destinations = ["KZ-*"]\n',
        "sync.peers[0].ca_file: /nonexistent/ca.crt is not a readable file",
    ),
]


@pytest.mark.parametrize(("text", "key"), RUN_REFUSED)
def test_config_check_refuses_what_run_refuses(tmp_path: Path, text: str, key: str) -> None:
    path = config_file(tmp_path, text)
    data = tmp_path / "data"
    check = carec_edge("--data-dir", str(data), "config", "check", str(path))
    check.assert_clean_failure()
    assert check.status == 1
    assert f"{path}: {key}" in check.err
    run = carec_edge("--config", str(path), "--data-dir", str(data), "run")
    run.assert_clean_failure()
    assert run.status == 2
    assert key in run.err
    assert not data.exists(), "run started (made its store) with a config it must refuse"


@pytest.fixture
def a_file(tmp_path: Path) -> Path:
    path = tmp_path / "plain-file"
    path.write_text("not a directory\n")
    return path


@pytest.mark.parametrize(
    ("data_dir", "reason"),
    [
        ("{file}", "{file}: not a directory"),
        ("{file}/data", "{file}/data: cannot be made: {file} is not a directory"),
        ("/sys/kernel", "/sys/kernel: not writable"),  # sysfs: no file can be made there
    ],
    ids=["a-file", "under-a-file", "read-only"],
)
def test_an_unusable_data_directory_is_named_by_check_and_by_every_command(
    tmp_path: Path, a_file: Path, data_dir: str, reason: str
) -> None:
    data_dir, reason = data_dir.format(file=a_file), reason.format(file=a_file)
    path = config_file(tmp_path, f'[store]\ndata_dir = "{data_dir}"\n')
    check = carec_edge("config", "check", str(path))
    check.assert_clean_failure()
    assert check.status == 1
    assert f"{path}: store.data_dir: {reason}" in check.err
    for command in (["manifests", "show", "X"], ["manifests", "purge"], ["match", "--seal", "S"]):
        used = carec_edge("--config", str(path), *command)
        used.assert_clean_failure()
        assert used.status == 2, used.err
        assert f"carec-edge: data directory {reason}" in used.err
