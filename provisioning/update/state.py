"""The box's update state: one small JSON file in the store directory, written atomically by
whoever moves the update on (the installer, the self-test, the fallback check) and read by the
health report, so the centre's rollout sees each box's phase and the reason it stopped."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from provisioning.identity.files import write_atomically

STATE_FILE = "update-state.json"

Phase = Literal[
    "idle",  # nothing in progress; `version` is what runs
    "downloading",  # fetching and verifying the bundle and its TUF metadata
    "installing",  # RAUC is writing the other slot
    "rebooting",  # installed; the box restarts into the new slot
    "good",  # the new slot passed its self-test after boot and is marked good
    "rolled_back",  # the new slot failed (self-test or boot count); the box runs the old one
    "failed",  # refused or failed before the reboot; the running slot is unchanged
]


class UpdateState(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    phase: Phase = "idle"
    target: str = Field(default="", max_length=200)  # the TUF target name of the bundle
    version: str = Field(default="", max_length=64)  # the version being installed or run
    booted_slot: str = Field(default="", max_length=8)  # "A" or "B"
    reason: str = Field(default="", max_length=500)  # why it failed or rolled back
    rollout: str = Field(default="", max_length=64)  # the centre's rollout id, when it asked
    updated_at: str = Field(default="", max_length=40)  # RFC 3339, UTC


class UpdateStateError(ValueError):
    pass


def read_state(directory: Path) -> UpdateState:
    """The last state written, or idle when none was."""
    path = directory / STATE_FILE
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return UpdateState()
    try:
        return UpdateState.model_validate(json.loads(data))
    except (ValueError, ValidationError) as error:
        raise UpdateStateError(f"{path}: not an update state: {error}") from error


def write_state(directory: Path, state: UpdateState) -> None:
    data = json.dumps(state.model_dump(), sort_keys=True).encode() + b"\n"
    write_atomically(directory / STATE_FILE, data, mode=0o640, overwrite=True)
