"""The rollout's rules (centre.updates.rollout), without a database: phases, the operator's
moves, and each step of a rollout driven to its end with boxes that succeed, fail, roll back
or fall silent."""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from centre.updates.rollout import (
    BAD,
    FINISHED,
    Box,
    Phase,
    Rollout,
    RolloutError,
    Step,
    assign_phases,
    count,
    next_step,
    operate,
    parse_phases,
)

T0 = dt.datetime(2026, 12, 7, 8, 0, tzinfo=dt.UTC)
STANDARD = parse_phases("1, 10%, 50%, 100%")


def rollout(**changes: object) -> Rollout:
    base = Rollout(
        state="running", phase=0, phases=STANDARD, threshold=0.2, min_finished=1,
        box_timeout=dt.timedelta(hours=2),
    )  # fmt: skip
    return replace(base, **changes)  # type: ignore[arg-type]


def boxes_of(n: int, phases: tuple[Phase, ...] = STANDARD) -> list[Box]:
    return [
        Box(f"KZ-POST{i}-1", phase, "queued", T0)
        for i, phase in enumerate(assign_phases(n, phases))
    ]


def with_state(boxes: list[Box], nodes: tuple[str, ...] | set[str], state: str) -> list[Box]:
    return [Box(b.node, b.phase, state, T0) if b.node in nodes else b for b in boxes]


# -- phases -------------------------------------------------------------------------------------


def test_phases_are_read_from_the_operators_words() -> None:
    assert (Phase(boxes=1), Phase(percent=10), Phase(percent=50), Phase(percent=100)) == STANDARD


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("1, 10%, 50%", "the last one is 100%"),
        ("0, 100%", "phase 1: 0 boxes; at least 1"),
        ("1, 150%", "phase 2: 150%; from 1% to 100%"),
        ("canary, 100%", "phase 1: 'canary'; a number of boxes or N%"),
        (",".join(["10%"] * 10 + ["100%"]), "phases: 11; between 1 and 10"),
    ],
)
def test_bad_phases_are_refused_with_the_reason(text: str, reason: str) -> None:
    with pytest.raises(RolloutError, match=reason):
        parse_phases(text)


def test_a_thousand_boxes_go_one_then_a_tenth_then_half_then_all() -> None:
    phases = assign_phases(1000, STANDARD)
    assert [phases.count(i) for i in range(4)] == [1, 99, 400, 500]


def test_a_phase_adding_no_box_is_empty() -> None:
    assert assign_phases(3, STANDARD) == [0, 2, 3]  # 10% of 3 is 1 box: the canary already
    assert assign_phases(2, STANDARD) == [0, 3]


@given(
    st.integers(0, 3000),
    st.lists(
        st.one_of(
            st.builds(Phase, boxes=st.integers(1, 50)),
            st.builds(Phase, percent=st.integers(1, 100)),
        ),
        max_size=8,
    ),
)
def test_every_box_is_in_one_phase_in_order(selection: int, head: list[Phase]) -> None:
    phases = (*head, Phase(percent=100))
    assigned = assign_phases(selection, phases)
    assert len(assigned) == selection
    assert assigned == sorted(assigned)
    assert all(0 <= p < len(phases) for p in assigned)
    if selection and isinstance(phases[0].boxes, int):
        assert assigned.count(0) == min(selection, phases[0].boxes)


# -- the operator -------------------------------------------------------------------------------


def test_the_operator_pauses_resumes_and_aborts() -> None:
    assert operate("planned", "start") == "running"
    assert operate("running", "pause") == "paused"
    assert operate("paused", "resume") == "running"
    assert operate("halted", "abort") == "aborted"


@pytest.mark.parametrize(
    ("state", "operation"),
    [("halted", "resume"), ("done", "abort"), ("aborted", "resume"), ("running", "start"),
     ("paused", "pause"), ("running", "explode")],
)  # fmt: skip
def test_moves_a_state_does_not_allow_are_refused(state: str, operation: str) -> None:
    with pytest.raises(RolloutError):
        operate(state, operation)


# -- steps --------------------------------------------------------------------------------------


def test_the_canary_goes_first_and_alone() -> None:
    boxes = boxes_of(20)
    step = next_step(rollout(), boxes, T0)
    assert step == Step("running", 0, command=(boxes[0].node,))


def test_a_good_canary_opens_the_next_phase() -> None:
    boxes = with_state(boxes_of(20), {"KZ-POST0-1"}, "good")
    step = next_step(rollout(), boxes, T0)
    assert step.phase == 1
    assert step.command == ("KZ-POST1-1",)  # 10% of 20: 2 boxes in all, one more


def test_a_failed_canary_halts_with_its_reason() -> None:
    boxes = with_state(boxes_of(20), {"KZ-POST0-1"}, "rolled_back")
    step = next_step(rollout(), boxes, T0)
    assert step.state == "halted"
    assert step.command == ()
    assert step.reason == (
        "phase 1 (1 box(es)): 1 of 1 finished boxes failed or rolled back (100%, over the "
        "threshold of 20%)"
    )


def test_a_phase_halts_as_soon_as_its_finished_boxes_pass_the_threshold() -> None:
    boxes = boxes_of(100)
    boxes = with_state(boxes, {b.node for b in boxes if b.phase == 0}, "good")
    in_phase_1 = [b.node for b in boxes if b.phase == 1]  # 9 boxes
    boxes = with_state(boxes, set(in_phase_1), "installing")
    boxes = with_state(boxes, set(in_phase_1[:4]), "good")
    boxes = with_state(boxes, {in_phase_1[4]}, "failed")
    assert next_step(rollout(phase=1), boxes, T0) == Step("running", 1)  # 1 of 5: 20%, not over
    boxes = with_state(boxes, {in_phase_1[5]}, "rolled_back")
    step = next_step(rollout(phase=1), boxes, T0)
    assert (step.state, step.command) == ("halted", ())
    assert "2 of 6 finished boxes" in step.reason


def test_min_finished_waits_for_enough_boxes_before_judging() -> None:
    boxes = boxes_of(100)
    boxes = with_state(boxes, {b.node for b in boxes if b.phase == 0}, "good")
    in_phase_1 = [b.node for b in boxes if b.phase == 1]
    boxes = with_state(boxes, set(in_phase_1), "downloading")
    boxes = with_state(boxes, {in_phase_1[0]}, "failed")
    assert next_step(rollout(phase=1, min_finished=3), boxes, T0).state == "running"
    boxes = with_state(boxes, set(in_phase_1[1:3]), "good")
    judged = rollout(phase=1, min_finished=3, threshold=0.3)  # 1 of 3 finished failed: 33%
    assert next_step(judged, boxes, T0).state == "halted"
    assert next_step(replace(judged, threshold=0.4), boxes, T0).state == "running"


def test_a_phase_within_its_threshold_advances_when_every_box_finished() -> None:
    boxes = boxes_of(100)
    boxes = with_state(boxes, {b.node for b in boxes if b.phase <= 1}, "good")
    last_of_phase_1 = [b.node for b in boxes if b.phase == 1][-1]
    boxes = with_state(boxes, {last_of_phase_1}, "failed")  # 1 of 9: 11%, within 20%
    step = next_step(rollout(phase=1), boxes, T0)
    assert step.phase == 2
    assert len(step.command) == 40


def test_a_silent_box_fails_at_the_timeout_and_counts_against_the_phase() -> None:
    boxes = with_state(boxes_of(20), {"KZ-POST0-1"}, "rebooting")
    assert next_step(rollout(), boxes, T0 + dt.timedelta(hours=1)) == Step("running", 0)
    step = next_step(rollout(), boxes, T0 + dt.timedelta(hours=2))
    assert step.timed_out == ("KZ-POST0-1",)
    assert step.state == "halted"


def test_a_paused_rollout_commands_nothing_but_still_halts() -> None:
    boxes = with_state(boxes_of(20), {"KZ-POST0-1"}, "good")
    assert next_step(rollout(state="paused"), boxes, T0) == Step("paused", 0)
    boxes = with_state(boxes, {"KZ-POST0-1"}, "failed")
    assert next_step(rollout(state="paused"), boxes, T0).state == "halted"


@pytest.mark.parametrize("state", ["planned", "halted", "done", "aborted"])
def test_a_rollout_not_running_nor_paused_does_nothing(state: str) -> None:
    boxes = with_state(boxes_of(20), {"KZ-POST0-1"}, "commanded")
    step = next_step(rollout(state=state), boxes, T0 + dt.timedelta(days=9))
    assert step == Step(state, 0)


def test_the_last_phase_finished_is_done_with_a_count() -> None:
    boxes = with_state(boxes_of(4), {"KZ-POST0-1", "KZ-POST1-1", "KZ-POST2-1"}, "good")
    boxes = with_state(boxes, {"KZ-POST3-1"}, "failed")  # 1 of 2 in the last phase: 50%
    assert next_step(rollout(phase=3, threshold=0.5), boxes, T0) == Step(
        "done", 3, reason="3 of 4 boxes updated"
    )


# -- a rollout driven to its end ----------------------------------------------------------------

OUTCOMES = ("good", "failed", "rolled_back", "silent")


@settings(max_examples=150, deadline=None)
@given(
    selection=st.integers(1, 120),
    threshold=st.sampled_from([0.0, 0.05, 0.2, 0.5, 1.0]),
    min_finished=st.integers(1, 5),
    seed=st.integers(0, 2**32 - 1),
    bad_share=st.sampled_from([0.0, 0.01, 0.1, 0.5]),
    pause_at=st.integers(0, 6) | st.none(),
)
def test_a_rollout_driven_to_its_end_keeps_every_rule(
    selection: int, threshold: float, min_finished: int, seed: int, bad_share: float,
    pause_at: int | None,
) -> None:  # fmt: skip
    rng = random.Random(seed)
    fate = {
        b.node: rng.choice(OUTCOMES[1:]) if rng.random() < bad_share else "good"
        for b in boxes_of(selection)
    }
    boxes = {b.node: b for b in boxes_of(selection)}
    state = rollout(threshold=threshold, min_finished=min_finished)
    now = T0
    commanded: list[str] = []
    for turn in range(4 * selection + 20):
        if pause_at == turn and state.state == "running":
            state = replace(state, state="paused")
        if pause_at is not None and turn == pause_at + 2 and state.state == "paused":
            state = replace(state, state="running")
        step = next_step(state, list(boxes.values()), now)
        # Only boxes of the step's phase, never twice, never when not running.
        assert all(boxes[n].phase == step.phase and boxes[n].state == "queued"
                   for n in step.command)  # fmt: skip
        assert not step.command or step.state == "running"
        assert step.phase >= state.phase
        for node in step.timed_out:
            assert boxes[node].state not in FINISHED
            boxes[node] = replace(boxes[node], state="failed", since=now)
        for node in step.command:
            boxes[node] = replace(boxes[node], state="commanded", since=now)
            commanded.append(node)
        state = replace(state, state=step.state, phase=step.phase)
        if step.state in ("halted", "done"):
            break
        # One box under way finishes, as its fate says (silent: it never reports).
        under_way = sorted(n for n, b in boxes.items() if b.state == "commanded")
        if under_way:
            node = rng.choice(under_way)
            if fate[node] != "silent":
                boxes[node] = replace(boxes[node], state=fate[node], since=now)
        now += dt.timedelta(minutes=30)
    assert state.state in ("halted", "done"), state
    assert len(commanded) == len(set(commanded))
    final = list(boxes.values())
    if state.state == "done":
        assert len(commanded) == selection
        for phase in range(len(STANDARD)):
            counted = count(final, phase)
            assert counted.finished == counted.boxes
            assert counted.bad <= threshold * counted.finished or counted.boxes == 0
    else:
        # Halted: its phase is over the threshold, and no later phase's box was commanded.
        counted = count(final, state.phase)
        assert counted.bad > threshold * counted.finished
        assert all(boxes[n].phase <= state.phase for n in commanded)
        assert {boxes[n].state for n in commanded} <= FINISHED | {"commanded"}
    assert BAD <= FINISHED
