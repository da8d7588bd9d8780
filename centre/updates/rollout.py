"""A rollout's rules, without a database: which phase each box of the selection is in, what an
operator may do to a rollout in each state, and, given the boxes' states, the next step (boxes
to command, boxes timed out, advance, halt with its reason, done). `rollout_store` persists
them and acts on the step.

Phases are cumulative: `1, 10%, 50%, 100%` is one canary box, then up to a tenth of the
selection, then half, then all. A phase holds the boxes its target adds to the one before; a
phase that adds none (ten percent of three boxes) is passed over.

Halt: in the current phase, once at least `min(n, min_finished)` of its n boxes finished (good,
failed or rolled back), if (failed + rolled back) / finished > threshold, the rollout halts and
commands no more boxes (a halted rollout is aborted or left; a fixed bundle is a new rollout).
Advance: once every box of the phase finished and the phase did not halt, i.e. its failure
rate is within the threshold (with threshold 0: every box good). A box commanded and silent
past the box timeout counts as failed.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, get_args

RolloutState = Literal["planned", "running", "paused", "halted", "done", "aborted"]
BoxState = Literal[
    "queued", "commanded", "downloading", "installing", "rebooting", "good", "rolled_back",
    "failed",
]  # fmt: skip
Operation = Literal["start", "pause", "resume", "abort"]
ROLLOUT_STATES: tuple[str, ...] = get_args(RolloutState)
BOX_STATES: tuple[str, ...] = get_args(BoxState)
OPERATIONS: tuple[str, ...] = get_args(Operation)
FINISHED = frozenset({"good", "rolled_back", "failed"})
BAD = frozenset({"rolled_back", "failed"})
# Commanded and not finished: the box timeout runs on these.
UNDER_WAY = frozenset({"commanded", "downloading", "installing", "rebooting"})
# Every state a box reports from its update state file (provisioning.update.state), as the
# rollout names it; "idle" tells nothing about the rollout.
REPORTED = frozenset({"downloading", "installing", "rebooting", "good", "rolled_back", "failed"})
MAX_PHASES = 10
ACTIVE = frozenset({"running", "paused"})

_TRANSITIONS: dict[str, dict[str, str]] = {
    "start": {"planned": "running"},
    "pause": {"running": "paused"},
    "resume": {"paused": "running"},
    "abort": {
        "planned": "aborted",
        "running": "aborted",
        "paused": "aborted",
        "halted": "aborted",
    },
}
_PHASE = re.compile(r"^\s*(?:(\d{1,6})|(\d{1,3})\s*%)\s*$")


class RolloutError(ValueError):
    """A rollout that cannot be made or moved as asked, one reason per problem."""

    def __init__(self, reasons: list[str]) -> None:
        super().__init__("; ".join(reasons))
        self.reasons = reasons


@dataclass(frozen=True)
class Phase:
    """A phase's cumulative target: `boxes` boxes, or `percent` of the selection."""

    boxes: int | None = None
    percent: int | None = None

    def target(self, selection: int) -> int:
        if self.boxes is not None:
            return min(selection, self.boxes)
        assert self.percent is not None
        return min(selection, math.ceil(selection * self.percent / 100))

    def label(self) -> str:
        return f"{self.boxes} box(es)" if self.boxes is not None else f"{self.percent}%"

    def as_json(self) -> dict[str, int]:
        return {"boxes": self.boxes} if self.boxes is not None else {"percent": self.percent or 0}


def parse_phases(text: str) -> tuple[Phase, ...]:
    """`1, 10%, 50%, 100%` as phases; RolloutError naming each bad part."""
    parts = [p for p in text.split(",")]
    problems: list[str] = []
    phases: list[Phase] = []
    for number, part in enumerate(parts, 1):
        found = _PHASE.match(part)
        if found is None:
            problems.append(f"phase {number}: {part.strip()[:20]!r}; a number of boxes or N%")
        elif found.group(1) is not None:
            phases.append(Phase(boxes=int(found.group(1))))
        else:
            phases.append(Phase(percent=int(found.group(2))))
    if problems:
        raise RolloutError(problems)
    check_phases(phases)
    return tuple(phases)


def check_phases(phases: Sequence[Phase]) -> None:
    problems = []
    if not 1 <= len(phases) <= MAX_PHASES:
        problems.append(f"phases: {len(phases)}; between 1 and {MAX_PHASES}")
    for number, phase in enumerate(phases, 1):
        if (phase.boxes is None) == (phase.percent is None):
            problems.append(f"phase {number}: a number of boxes or a percentage")
        elif phase.boxes is not None and phase.boxes < 1:
            problems.append(f"phase {number}: {phase.boxes} boxes; at least 1")
        elif phase.percent is not None and not 1 <= phase.percent <= 100:
            problems.append(f"phase {number}: {phase.percent}%; from 1% to 100%")
    if phases and phases[-1] != Phase(percent=100):
        problems.append("phases: the last one is 100% (every box of the selection)")
    if problems:
        raise RolloutError(problems)


def assign_phases(selection: int, phases: Sequence[Phase]) -> list[int]:
    """The phase index of each box of the selection, in the selection's order."""
    out: list[int] = []
    reached = 0
    for index, phase in enumerate(phases):
        target = max(reached, phase.target(selection))
        out += [index] * (target - reached)
        reached = target
    out += [len(phases) - 1] * (selection - reached)  # the last phase is 100%: none left
    return out


def operate(state: str, operation: str) -> str:
    """The rollout's state after an operator's `operation`; RolloutError if it may not."""
    if operation not in _TRANSITIONS:
        raise RolloutError([f"operation: {operation!r}; one of {', '.join(OPERATIONS)}"])
    after = _TRANSITIONS[operation].get(state)
    if after is None:
        allowed = ", ".join(_TRANSITIONS[operation])
        raise RolloutError([f"a {state} rollout cannot {operation} (only a {allowed} one)"])
    return after


@dataclass(frozen=True)
class Rollout:
    state: str  # a RolloutState
    phase: int  # the current phase's index
    phases: tuple[Phase, ...]
    threshold: float  # the failure rate a phase may reach, 0..1
    min_finished: int  # finished boxes of a phase before its rate is judged
    box_timeout: dt.timedelta


@dataclass(frozen=True)
class Box:
    node: str
    phase: int
    state: str  # a BoxState
    since: dt.datetime  # when it entered that state


@dataclass(frozen=True)
class Step:
    state: str  # the rollout's state after the step
    phase: int  # ... and its current phase
    command: tuple[str, ...] = ()  # boxes to send the update to now
    timed_out: tuple[str, ...] = ()  # boxes to record as failed: silent past the timeout
    reason: str = ""  # why it halted, or what it came to when done

    def changes(self, rollout: Rollout) -> bool:
        return bool(
            self.command or self.timed_out or self.state != rollout.state
            or self.phase != rollout.phase
        )  # fmt: skip


@dataclass(frozen=True)
class PhaseCount:
    boxes: int = 0
    queued: int = 0
    under_way: int = 0
    good: int = 0
    bad: int = 0

    @property
    def finished(self) -> int:
        return self.good + self.bad


def count(boxes: Sequence[Box], phase: int) -> PhaseCount:
    states = [b.state for b in boxes if b.phase == phase]
    return PhaseCount(
        boxes=len(states), queued=states.count("queued"),
        under_way=sum(s in UNDER_WAY for s in states), good=states.count("good"),
        bad=sum(s in BAD for s in states),
    )  # fmt: skip


def halt_reason(rollout: Rollout, phase: int, counted: PhaseCount) -> str | None:
    """Why the phase halts the rollout, or None while it may go on."""
    if counted.boxes == 0 or counted.finished < min(counted.boxes, rollout.min_finished):
        return None
    if counted.bad / counted.finished <= rollout.threshold:
        return None
    return (
        f"phase {phase + 1} ({rollout.phases[phase].label()}): {counted.bad} of "
        f"{counted.finished} finished boxes failed or rolled back "
        f"({counted.bad / counted.finished:.0%}, over the threshold of {rollout.threshold:.0%})"
    )


def next_step(rollout: Rollout, boxes: Sequence[Box], now: dt.datetime) -> Step:
    """What to do now. Only a running or paused rollout moves: boxes time out and a phase may
    halt in both; only a running one commands boxes and advances."""
    if rollout.state not in ACTIVE:
        return Step(rollout.state, rollout.phase)
    deadline = now - rollout.box_timeout
    timed_out = tuple(b.node for b in boxes if b.state in UNDER_WAY and b.since <= deadline)
    if timed_out:
        late = set(timed_out)
        boxes = [Box(b.node, b.phase, "failed", now) if b.node in late else b for b in boxes]
    phase = rollout.phase
    reason = halt_reason(rollout, phase, count(boxes, phase))
    if reason is not None:
        return Step("halted", phase, timed_out=timed_out, reason=reason)
    if rollout.state == "paused":
        return Step("paused", phase, timed_out=timed_out)
    last = len(rollout.phases) - 1
    counted = count(boxes, phase)
    while counted.queued == 0 and counted.under_way == 0 and phase < last:
        phase += 1  # the phase finished within its threshold (or held no box)
        counted = count(boxes, phase)
    if counted.queued == 0 and counted.under_way == 0:
        good = sum(b.state == "good" for b in boxes)
        done = f"{good} of {len(boxes)} boxes updated"
        return Step("done", phase, timed_out=timed_out, reason=done)
    command = tuple(b.node for b in boxes if b.phase == phase and b.state == "queued")
    return Step("running", phase, command=command, timed_out=timed_out)
