"""After a boot on the old slot: did an update roll back by itself?

The installer wrote `rebooting` with the new version before restarting. If the box now runs
another version from a good entry, the new slot never passed its self-test: its tries ran out
(systemd-boot then starts the old slot) or the self-test marked it bad and switched back.
Either way the update state says `rolled_back` with the reason, and the health report
carries it to the centre's rollout. An install cut short (power lost while RAUC wrote the
slot) leaves `installing`: that is `failed`, the running slot never changed.
"""

from __future__ import annotations

from pathlib import Path

from edge.timeutil import format_utc, utcnow
from provisioning.update import boot_entries
from provisioning.update.boot_entries import Slot
from provisioning.update.state import UpdateState


def other_slot(slot: Slot) -> Slot:
    return "B" if slot == "A" else "A"


def settled_state(
    esp: Path, booted: Slot, running_version: str, state: UpdateState
) -> UpdateState | None:
    """The state to write now that the box runs `booted` at `running_version`, or None when
    `state` still holds (nothing was in flight, or the new version is what runs)."""
    if state.phase == "installing":
        reason = f"the install of {state.version or state.target} was cut short by a restart"
        return _moved(state, "failed", booted, reason)
    if state.phase != "rebooting" or state.version == running_version:
        # the state stays; the slot it names is the one running now (after a fallback the
        # self-test wrote it on the slot it left), since the installer reads it from here
        if state.phase != "idle" and state.booted_slot != booted:
            return state.model_copy(update={"booted_slot": booted})
        return None
    other = other_slot(booted)
    entry = boot_entries.read_entries(esp).get(other)
    if entry is not None and entry.bad:
        reason = (
            f"slot {other} ({state.version}) failed after {entry.tries_done} boot(s) without "
            f"passing its self-test; running slot {booted} ({running_version}) again"
        )
    else:
        reason = f"the box restarted on slot {booted} ({running_version}), not {state.version}"
    return _moved(state, "rolled_back", booted, reason)


def _moved(state: UpdateState, phase: str, booted: Slot, reason: str) -> UpdateState:
    return state.model_copy(
        update={
            "phase": phase,
            "booted_slot": booted,
            "reason": reason[:500],
            "updated_at": format_utc(utcnow()),
        }
    )
