"""A twin's desired sections checked as the box will check them: with edge.config's models,
each problem a `path: reason` line naming the key, before anything is stored or sent."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pydantic import ValidationError

from edge.config import Config
from edge.manifest import field_path
from sync.messages import TWIN_SECTIONS, TWIN_SYNC_KEYS


def section_problems(sections: Mapping[str, Any]) -> list[str]:
    """Why these sections cannot go to a box (none: they can). A section holds its whole
    content as in carec-edge.toml; `devices` is a list of tables (each checked against its
    kind's model by the box's drivers, which the centre does not know)."""
    problems: list[str] = []
    for name in sections:
        if name not in TWIN_SECTIONS:
            problems.append(
                f"{name}: not a section an operator may change remotely; one of "
                + ", ".join(TWIN_SECTIONS)
            )
    sync = sections.get("sync")
    if isinstance(sync, Mapping):
        for key in sync:
            if key not in TWIN_SYNC_KEYS:
                problems.append(
                    f"sync.{key}: stays in the box's own file; a twin sets only "
                    + ", ".join(sorted(TWIN_SYNC_KEYS))
                )
    if problems:
        return problems
    try:
        Config.model_validate(dict(sections))
    except ValidationError as error:
        problems = [_problem(dict(item)) for item in error.errors(include_url=False)]
    return problems


def _problem(item: dict[str, Any]) -> str:
    """One pydantic error as edge.config words them for the file."""
    loc = item["loc"]
    key = field_path(loc) if isinstance(loc, tuple) else str(loc)
    if item["type"] == "extra_forbidden":
        return f"{key}: unknown key; check the spelling against the README"
    message = str(item["msg"]).removeprefix("Value error, ")
    return f"{key}: {message} (got {str(item.get('input'))[:80]!r})"
