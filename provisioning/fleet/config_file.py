"""carec-edge.toml as a twin changes it: the desired sections merged into the file's own
data, checked with the file's models, written atomically (a temporary file, fsync, rename)
with the file before kept beside it as `.previous`, and put back from there on a rollback.

The sections a twin names are rewritten; every other line of the file (sections not named,
their comments) stays as it was. When the file's shape keeps that from being exact (a named
section's keys given as dotted keys elsewhere), the whole file is written from its data.
"""

from __future__ import annotations

import json
import math
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from edge.config import Config, ConfigError, parse_config, read_config_text
from provisioning.identity.files import write_atomically
from sync.messages import TWIN_SECTIONS, TWIN_SYNC_KEYS

PREVIOUS_SUFFIX = ".previous"
CONFIG_MODE = 0o644

# Checks what the core's models cannot, as `carec-edge run` would before it starts: each
# [[devices]] table against its driver, the files sync needs (the wiring hands in its preflight);
# "devices[1].port: ..." lines, none when fine.
ConfigCheck = Callable[[Config], list[str]]


def previous_path(path: Path) -> Path:
    return path.with_name(path.name + PREVIOUS_SUFFIX)


def load_data(path: Path) -> dict[str, Any]:
    """The file's TOML data (ConfigError when unreadable or not TOML)."""
    text = read_config_text(path)
    try:
        return tomllib.loads(text)
    except (tomllib.TOMLDecodeError, RecursionError) as error:
        raise ConfigError(path, [f"not valid TOML: {error}"]) from None


def section_errors(sections: Mapping[str, Any]) -> list[str]:
    """What a twin may not set, whatever its values: a section of the wrong shape, a key of
    [sync] that says who the box is or whom it trusts."""
    errors = []
    for name, content in sections.items():
        if name not in TWIN_SECTIONS:
            errors.append(f"{name}: not a section a twin may change")
        elif name == "devices":
            if not isinstance(content, list) or not all(isinstance(d, dict) for d in content):
                errors.append("devices: expected a list of device tables")
        elif not isinstance(content, dict):
            errors.append(f"{name}: expected a table")
        elif name == "sync":
            errors += [
                f"sync.{key}: set on the box only (who it is and whom it trusts)"
                for key in sorted(set(content) - TWIN_SYNC_KEYS)
            ]
    return errors


def merge(data: Mapping[str, Any], sections: Mapping[str, Any]) -> dict[str, Any]:
    """The file's data with the twin's sections in place; [sync] keeps its other keys."""
    merged = dict(data)
    for name, content in sections.items():
        if name == "sync":
            merged["sync"] = {**dict(data.get("sync") or {}), **content}
        else:
            merged[name] = content
    return merged


def check(
    path: Path, data: Mapping[str, Any], check_more: ConfigCheck | None
) -> tuple[Config | None, list[str]]:
    """`data` as the service would load it: the Config, or one "key: reason" per problem."""
    try:
        config = parse_config(dumps(data), path)
    except ConfigError as error:
        return None, list(error.problems)
    if check_more is not None and (problems := check_more(config)):
        return None, problems
    return config, []


def render(original: str, merged: Mapping[str, Any], names: set[str]) -> str:
    """The new file's text: `original` without the named sections, then those sections as
    `merged` has them; the whole of `merged` when that would not read back as `merged`."""
    kept = _without_sections(original, names).rstrip("\n")
    added = dumps({name: merged[name] for name in merged if name in names})
    text = f"{kept}\n\n{added}" if kept else added
    try:
        if tomllib.loads(text) == merged:
            return text
    except tomllib.TOMLDecodeError:
        pass
    return dumps(merged)


def write(path: Path, text: str) -> None:
    """`text` in `path` atomically; the file it replaces kept as `<path>.previous`."""
    mode = CONFIG_MODE
    if path.exists():
        mode = path.stat().st_mode & 0o777
        write_atomically(previous_path(path), path.read_bytes(), mode=mode, overwrite=True)
    write_atomically(path, text.encode("utf-8"), mode=mode, overwrite=True)


def restore_previous(path: Path) -> bool:
    """Put `<path>.previous` back as `path` (atomically); False when there is none."""
    previous = previous_path(path)
    if not previous.exists():
        return False
    mode = previous.stat().st_mode & 0o777
    write_atomically(path, previous.read_bytes(), mode=mode, overwrite=True)
    return True


# --- TOML out ------------------------------------------------------------------------------------

_HEADER = re.compile(r"^\s*\[\[?\s*([A-Za-z0-9_-]+|\"[^\"]*\")")
_BARE_KEY = re.compile(r"^[A-Za-z0-9_-]+$")


def _without_sections(text: str, names: set[str]) -> str:
    lines, skipping = [], False
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            skipping = header.group(1).strip('"') in names
        if not skipping:
            lines.append(line)
    return "\n".join(lines) + "\n"


def dumps(data: Mapping[str, Any]) -> str:
    """`data` (what tomllib reads) as TOML text."""
    return _table(data, ()).lstrip("\n")


def _table(data: Mapping[str, Any], prefix: tuple[str, ...]) -> str:
    plain = [(k, v) for k, v in data.items() if not _is_table(v) and not _is_table_array(v)]
    tables = [(k, v) for k, v in data.items() if _is_table(v)]
    arrays = [(k, v) for k, v in data.items() if _is_table_array(v)]
    out = "".join(f"{_key(k)} = {_value(v)}\n" for k, v in plain)
    for key, value in tables:
        path = (*prefix, key)
        out += f"\n[{'.'.join(map(_key, path))}]\n" + _table(value, path)
    for key, items in arrays:
        path = (*prefix, key)
        for item in items:
            out += f"\n[[{'.'.join(map(_key, path))}]]\n" + _table(item, path)
    return out


def _is_table(value: object) -> bool:
    return isinstance(value, dict)


def _is_table_array(value: object) -> bool:
    return isinstance(value, list) and bool(value) and all(isinstance(v, dict) for v in value)


def _key(key: str) -> str:
    return key if _BARE_KEY.match(key) else _string(key)


def _string(text: str) -> str:
    return json.dumps(text, ensure_ascii=False).replace("\x7f", "\\u007f")


def _value(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return "nan" if math.isnan(value) else ("inf" if value > 0 else "-inf")
        return repr(value)
    if isinstance(value, str | os.PathLike):
        return _string(os.fspath(value) if not isinstance(value, str) else value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_value(v) for v in value) + "]"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{_key(k)} = {_value(v)}" for k, v in value.items()) + "}"
    raise ValueError(f"{type(value).__name__} has no TOML form")
