"""`carec-edge config check`: a good file passes, a bad one is refused with the key to fix."""

from __future__ import annotations

import tomllib
import typing
from pathlib import Path
from typing import Any

import pytest
from pydantic import BaseModel

from edge.cli import main
from edge.config import Config, PeerConfig

EXAMPLE_CONFIG = Path(__file__).resolve().parents[2] / "image" / "carec-edge.toml"


def check(
    path: Path, capsys: pytest.CaptureFixture[str], data_dir: Path | None = None
) -> tuple[int, str, str]:
    # The data directory is checked too: the example's /var/lib/carec-edge may not be ours.
    data = ["--data-dir", str(data_dir)] if data_dir else []
    status = main([*data, "config", "check", str(path)])
    out, err = capsys.readouterr()
    return status, out, err


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "carec-edge.toml"
    path.write_text(text, encoding="utf-8")
    return path


def test_good_file_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path, '[node]\nid = "KZ-NURZHOLY-1"\n[store]\nretention_days = 90\n')
    status, out, err = check(path, capsys)
    assert (status, err) == (0, "")
    assert out == f"{path}: ok\n"


def test_misspelt_key_is_named_with_its_section(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, "[store]\nretention_dayz = 30\n")
    status, out, err = check(path, capsys)
    assert status == 1
    assert out == ""
    assert f"{path}: store.retention_dayz: unknown key in section [store]" in err


def test_unknown_section_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = check(write(tmp_path, "[kiosks]\nport = 8080\n"), capsys)
    assert status == 1
    assert "kiosks: unknown key in the top level" in err


def test_wrong_type_names_the_key_and_the_value(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = check(write(tmp_path, '[store]\nretention_days = "thirty"\n'), capsys)
    assert status == 1
    assert "store.retention_days:" in err
    assert "'thirty'" in err


def test_value_out_of_range_names_the_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = check(write(tmp_path, "[matching]\nmin_score = 1.5\n"), capsys)
    assert status == 1
    assert "matching.min_score:" in err


def test_every_problem_is_reported_not_only_the_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(tmp_path, '[store]\nretention_dayz = 30\n[logging]\nlevel = "LOUD"\n')
    status, _, err = check(path, capsys)
    assert status == 1
    assert "store.retention_dayz:" in err
    assert "logging.level:" in err


def test_bad_toml_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = check(write(tmp_path, "[store\nretention_days = 30\n"), capsys)
    assert status == 1
    assert "not valid TOML" in err


def test_missing_file_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, _, err = check(tmp_path / "absent.toml", capsys)
    assert status == 1
    assert "cannot read" in err


def test_example_config_in_image_passes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    status, out, err = check(EXAMPLE_CONFIG, capsys, tmp_path / "data")
    assert (status, err) == (0, "")
    assert out.endswith(": ok\n")


def test_example_config_shows_every_key_at_its_default() -> None:
    example = tomllib.loads(EXAMPLE_CONFIG.read_text(encoding="utf-8"))
    defaults = Config().model_dump(mode="json")
    assert defaults.pop("devices") == []  # the device examples have a file of their own
    assert example == defaults


def _model_keys(model: type[BaseModel], prefix: str = "") -> set[str]:
    """Every key a config file may hold under `model`, dotted: `sync.peers.cert_file`."""
    keys: set[str] = set()
    for name, field in model.model_fields.items():
        inner = _model_in(field.annotation)
        keys |= _model_keys(inner, f"{prefix}{name}.") if inner else {f"{prefix}{name}"}
    return keys


def _model_in(annotation: Any) -> type[BaseModel] | None:
    """The model a field holds, alone or in a list or optional."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in typing.get_args(annotation):
        if found := _model_in(arg):
            return found
    return None


def _file_keys(data: dict[str, Any], prefix: str = "") -> set[str]:
    keys: set[str] = set()
    for name, value in data.items():
        tables = [value] if isinstance(value, dict) else value if isinstance(value, list) else []
        tables = [t for t in tables if isinstance(t, dict)]
        keys.add(f"{prefix}{name}")
        for table in tables:
            keys |= _file_keys(table, f"{prefix}{name}.")
    return keys


def _commented_example(text: str) -> str:
    """The example tables the file shows in comments (from a `#   [[sync.peers]]` header, the
    `#   ` lines under it), as TOML."""
    lines: list[str] = []
    in_table = False
    for line in text.splitlines():
        in_table = line.startswith("#   [") or (in_table and line.startswith("#   "))
        if in_table:
            lines.append(line.removeprefix("#   "))
    return "\n".join(lines)


def test_every_key_of_the_config_models_is_in_the_example() -> None:
    text = EXAMPLE_CONFIG.read_text(encoding="utf-8")
    shown = tomllib.loads(_commented_example(text))
    keys = _file_keys(tomllib.loads(text)) | _file_keys(shown)
    expected = _model_keys(Config) - {"devices"}  # devices have their own example file
    assert sorted(expected - keys) == []
    # ... and what the comments show is right: each table they show is valid.
    for peer in shown["sync"]["peers"]:
        PeerConfig.model_validate(peer)


def test_device_examples_pass_config_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    devices = EXAMPLE_CONFIG.with_name("devices.example.toml")
    kinds = {d["kind"] for d in tomllib.loads(devices.read_text(encoding="utf-8"))["devices"]}
    assert kinds >= {"barcode", "mrz"}
    status, _, err = check(devices, capsys, tmp_path / "data")
    assert status == 0, err


def test_config_check_names_a_bad_device_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = write(
        tmp_path, '[[devices]]\nkind = "barcode"\nid = "s1"\nport = "/dev/x"\nbaudrat = 1\n'
    )
    status, _, err = check(bad, capsys)
    assert status == 1
    assert "devices[0].baudrat: unknown key" in err
