"""The login guard's map stays bounded: old entries are forgotten, a full map drops its oldest
unlocked entry and counts it, and a lock outlives a flood of other failures."""

from __future__ import annotations

from tests.kiosk.conftest import FakeClock
from ui_kiosk.login_guard import LoginGuard, guard_key


def test_a_flood_of_logins_keeps_the_map_at_its_bound_and_counts_what_it_dropped() -> None:
    guard = LoginGuard(max_failures=5, lockout_seconds=300, clock=FakeClock(), max_entries=100)
    for n in range(10_000):
        guard.failed(guard_key(None, f"guess-{n}"))
    assert len(guard) == 100
    assert guard.evicted == 10_000 - 100
    assert guard.total_failures == 10_000


def test_a_locked_officer_stays_locked_through_a_flood_of_other_logins() -> None:
    guard = LoginGuard(max_failures=5, lockout_seconds=300, clock=FakeClock(), max_entries=10)
    ivan = guard_key("ivan", "B-100")
    for _ in range(5):
        guard.failed(ivan)
    for n in range(1000):
        guard.failed(guard_key(None, f"guess-{n}"))
    assert guard.locked(ivan)
    assert len(guard) == 10


def test_entries_older_than_the_lockout_are_forgotten() -> None:
    clock = FakeClock()
    guard = LoginGuard(max_failures=5, lockout_seconds=300, clock=clock)
    for n in range(50):
        guard.failed(guard_key(None, f"old-{n}"))
    clock.advance(301)
    guard.failed(guard_key(None, "new"))
    assert len(guard) == 1
    assert guard.evicted == 0  # forgotten as expired, not dropped for room


def test_failures_spread_wider_than_the_lockout_do_not_add_up() -> None:
    clock = FakeClock()
    guard = LoginGuard(max_failures=3, lockout_seconds=300, clock=clock)
    key = guard_key("ivan", "ivan")
    for _ in range(5):
        assert guard.failed(key) == 1
        clock.advance(301)
    assert not guard.locked(key)


def test_a_login_is_keyed_by_its_officer_whatever_names_it() -> None:
    assert guard_key("demo", "BADGE-0001") == guard_key("demo", " demo ")
    assert guard_key(None, " Demo ") == guard_key(None, "demo")
    assert guard_key(None, "demo") != guard_key("demo", "demo")
