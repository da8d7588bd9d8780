"""The box's side of the centre's `update` command: fetch the bundle named by its TUF target
and verify it (`provisioning.update.tuf_client.fetch_target`), install it to the other slot
(`provisioning.update.rauc.install_bundle`), then reboot into it. Each step is written to the
update state file first (`provisioning.update.state`), so the health report tells the centre's
rollout where the box stands, and a box that stops on the way says why (`failed`, with the
reason); after the reboot the self-test marks the new slot good, or the boot count falls back
(`rolled_back`): that is the slot's code, not this module's.

The fetch, install and reboot are handed in, so the steps run the same with the real client,
RAUC and systemctl in the image, and with small real stand-ins in the tests."""

from __future__ import annotations

import contextlib
import logging
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from edge.logs import error_first_line, log_event
from edge.timeutil import format_utc, utcnow
from provisioning.fleet.commands import CommandOutcome
from provisioning.update.state import Phase, UpdateState, UpdateStateError, read_state, write_state

log = logging.getLogger(__name__)

MAX_REASON = 500  # UpdateState.reason


class Fetched(Protocol):
    """What the TUF client hands back (provisioning.update.tuf_client.VerifiedTarget)."""

    @property
    def path(self) -> Path: ...

    @property
    def version(self) -> str: ...


Fetch = Callable[[str, Path], Fetched]  # (target, work_dir) -> the verified bundle
Install = Callable[[Path], None]  # the bundle -> installed to the other slot, or raises
Reboot = Callable[[], None]


@dataclass(frozen=True)
class UpdateOrder:
    target: str
    rollout: str = ""


class BoxUpdater:
    def __init__(
        self,
        state_dir: Path,
        work_dir: Path,
        *,
        fetch: Fetch,
        install: Install,
        reboot: Reboot,
    ) -> None:
        self.state_dir = state_dir
        self.work_dir = work_dir
        self.fetch = fetch
        self.install = install
        self.reboot = reboot

    def run(self, order: UpdateOrder) -> CommandOutcome:
        """Download, verify and install `order.target`; the command's outcome. Done means
        installed and about to reboot (the caller reboots once the result is recorded, when
        `needs_reboot`), or already running it (from a USB stick, or an earlier rollout)."""
        previous = self._previous()
        slot = previous.booted_slot
        if previous.phase == "good" and previous.target == order.target:
            state = previous.model_copy(update={"rollout": order.rollout, "reason": ""})
            write_state(self.state_dir, state)
            return CommandOutcome("done", f"already runs {order.target} (version "
                                  f"{previous.version}); nothing installed")  # fmt: skip
        self._write(order, "downloading", slot=slot)
        try:
            fetched = self.fetch(order.target, self.work_dir)
        except Exception as error:  # the client's refusal, a lost link: reported, never fatal
            return self._failed(order, slot, "", f"download refused: {_reason(error)}")
        version = fetched.version[:64]
        self._write(order, "installing", version=version, slot=slot)
        try:
            self.install(fetched.path)
        except Exception as error:  # RAUC's refusal (signature, compatible) or a write error
            return self._failed(order, slot, version, f"install failed: {_reason(error)}")
        finally:
            with contextlib.suppress(OSError):  # the slot has it now; the data partition is small
                fetched.path.unlink()
        self._write(order, "rebooting", version=version, slot=slot)
        log_event(log, logging.WARNING, "update.installed", target=order.target, version=version,
                  rollout=order.rollout)  # fmt: skip
        return CommandOutcome(
            "done", f"installed {order.target} (version {version}) to the other slot; rebooting"
        )

    def _failed(self, order: UpdateOrder, slot: str, version: str, reason: str) -> CommandOutcome:
        reason = reason[:MAX_REASON]
        self._write(order, "failed", version=version, slot=slot, reason=reason)
        log_event(log, logging.WARNING, "update.failed", target=order.target,
                  rollout=order.rollout, reason=reason)  # fmt: skip
        return CommandOutcome("failed", reason)

    def _write(
        self, order: UpdateOrder, phase: Phase, *, version: str = "", slot: str = "",
        reason: str = "",
    ) -> None:  # fmt: skip
        state = UpdateState(
            phase=phase, target=order.target, version=version, booted_slot=slot, reason=reason,
            rollout=order.rollout, updated_at=format_utc(utcnow()),
        )  # fmt: skip
        write_state(self.state_dir, state)

    def needs_reboot(self) -> bool:
        """An update installed and waiting for the reboot into its slot."""
        return self._previous().phase == "rebooting"

    def _previous(self) -> UpdateState:
        try:
            return read_state(self.state_dir)
        except UpdateStateError:
            return UpdateState()  # a damaged file is replaced by this update's state


def order_of(arguments: dict[str, str] | None) -> UpdateOrder | None:
    """The update's target and rollout as the command carried them; None without a target."""
    target = (arguments or {}).get("target", "")
    if not target:
        return None
    return UpdateOrder(target=target, rollout=(arguments or {}).get("rollout", ""))


def systemctl_reboot() -> None:
    """The host restarts (into the slot RAUC made primary)."""
    subprocess.run(["systemctl", "reboot"], check=True, timeout=60)


def _reason(error: Exception) -> str:
    reason = getattr(error, "reason", None)
    return str(reason) if isinstance(reason, str) and reason else error_first_line(error)
