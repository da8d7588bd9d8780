"""Scale-out: two instances of one centre (KZ-CIS) against one PostgreSQL and one broker.

The broker spreads the boxes' messages over the two with an MQTT 5 shared subscription; one
instance is killed with SIGKILL in the middle of a burst; the other carries on, and the boxes'
outboxes send again what the dead one took and never acknowledged (mosquitto also goes on
handing the dead instance's session its share of the group until the session expires: those
come back the same way). Every message must end applied exactly once, and every box must hear
the centre's acknowledgement of each. The periodic jobs run on one instance at a time, under
their advisory lock.

`pytest -s` prints what the burst measured: the apply rate of the two instances before the kill,
how long the rest took after it, and how many messages the boxes sent again.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, select, text

from centre.config import CentreConfig
from centre.service import JOBS_LOCK, CentreService
from centre.store import open_centre_database
from centre.store.schema import events
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from tests.centre.scale_boxes import LinkedBox
from tests.centre.scale_cluster import (
    APPLIED,
    PARKED,
    CentreInstance,
    api_get,
    applied_ids,
    apply_rate,
    event_count,
    event_ids,
    note_taking_instance,
    quarantined,
    start_broker,
    taken_by_instance,
    wait_until,
    write_config,
)
from tests.fixtures.postgres import PostgresServer

pytestmark = pytest.mark.slow

CENTRE = "KZ-CIS"
BOXES = ("KZ-NURZHOLY-1", "KZ-KORGAS-1", "KZ-ALTYNKOL-1", "KZ-KALZHAT-1")
CROSSINGS_PER_BOX = 1000  # an arrival and a decision each: 8,000 messages in the burst
# Guards against a hang, not a pace: each wait returns as soon as its condition holds.
BURST_TIMEOUT_S = 300.0
RECOVERY_TIMEOUT_S = 600.0


@pytest.fixture(scope="module")
def scale_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("scale-fleet"), [CENTRE, *BOXES])


def test_two_instances_share_a_burst_and_one_killed_mid_burst_loses_nothing(
    postgres: PostgresServer, scale_fleet: Fleet, tmp_path: Path
) -> None:
    url = postgres.create_database()
    engine = open_centre_database(url)  # migrated here, so the test's triggers can go on it
    note_taking_instance(engine)
    with contextlib.ExitStack() as stack:
        broker = stack.enter_context(start_broker(scale_fleet, [CENTRE, *BOXES], tmp_path / "mq"))
        instances: dict[str, CentreInstance] = {}
        for name in ("1", "2"):
            config = write_config(
                tmp_path / f"centre-{name}.toml", scale_fleet, CENTRE, name, url, broker
            )
            instances[name] = stack.enter_context(CentreInstance(config, tmp_path / f"c{name}"))
        ports = {name: instance.wait_serving() for name, instance in instances.items()}
        boxes = [
            LinkedBox(scale_fleet, node, tmp_path / node, (broker.host, broker.port))
            for node in BOXES
        ]
        for box in boxes:
            stack.callback(box.close)
        sent = [i for box in boxes for i in box.queue_burst(CROSSINGS_PER_BOX, CENTRE)]
        for box in boxes:
            box.start()

        wait_until(
            "a third of the burst applied", lambda: event_count(engine),
            lambda count: count >= len(sent) // 3, BURST_TIMEOUT_S,
        )  # fmt: skip
        before_kill = taken_by_instance(engine, APPLIED)
        took_part = Counter(before_kill) + Counter(taken_by_instance(engine, PARKED))
        two_instance_rate = apply_rate(engine)
        resent_before_kill = resent_by(boxes)
        instances["2"].process.kill()  # SIGKILL: no shutdown, no last commit
        instances["2"].process.wait()
        killed_at = time.monotonic()

        def progress() -> tuple[int, int]:
            delivered = sum(box.states().get("delivered", 0) for box in boxes)
            return event_count(engine), delivered

        wait_until(
            "every message applied and acknowledged to its box", progress,
            lambda seen: seen == (len(sent), len(sent)), RECOVERY_TIMEOUT_S,
        )  # fmt: skip
        recovery_s = time.monotonic() - killed_at

        # Nothing lost, nothing applied twice: each id once in the feed and among the applied.
        assert Counter(event_ids(engine)) == Counter(sent)
        applied = Counter(applied_ids(engine))
        assert applied == Counter(sent)
        assert quarantined(engine) == []
        assert sum(before_kill.values()) < len(sent)  # the kill came in the middle of the burst
        # Both instances took part of the burst (applied, or parked ahead of a gap that the
        # other then filled) before one was killed.
        assert set(took_part) == {"centre-1", "centre-2"}
        after = taken_by_instance(engine, APPLIED)
        assert sum(after.values()) == len(sent)
        for name, instance in instances.items():
            assert any("centre.started" in line and f"instance={name}" in line
                       for line in instance.log)  # fmt: skip
        # Every box heard the centre acknowledge each of its messages.
        for box in boxes:
            assert box.states() == {"delivered": 2 * CROSSINGS_PER_BOX}, box.node_id
        # The surviving instance answers on its API, with the events of the burst.
        assert api_get(ports["1"], "/v1/health") == {"status": "ok"}
        page = api_get(ports["1"], "/v1/events?limit=100")
        feed = page["events"]
        assert isinstance(feed, list)
        assert len(feed) == 100
        assert {event["message_id"] for event in feed} <= set(sent)
        resent = resent_by(boxes)
        assert instances["1"].stop() == 143  # SIGTERM's exit, through the service's close()
        print(
            f"\nscale-out: {len(sent)} messages, {len(boxes)} boxes; before the kill "
            f"{before_kill} applied at {two_instance_rate:.0f} msg/s by two instances; "
            f"the rest applied and acknowledged {recovery_s:.1f} s after the kill; "
            f"applied by instance in all: {after}, parked or applied before the kill "
            f"{dict(took_part)}; sent again by the boxes before the kill "
            f"{dict(resent_before_kill)}, in all {dict(resent)}"
        )
    engine.dispose()


def resent_by(boxes: list[LinkedBox]) -> Counter[str]:
    resent: Counter[str] = Counter()
    for box in boxes:
        resent.update(box.counters())
    return resent


# -- periodic jobs -------------------------------------------------------------------------------


def jobs_service(fleet: Fleet, url: str, instance: str) -> CentreService:
    """An instance as `centre run` builds it, without a broker: its jobs called by the test."""
    config = CentreConfig.model_validate(
        {
            "centre": {"id": CENTRE, "database": url, "instance": instance},
            "identity": {"identity_dir": fleet.nodes[CENTRE], "trust_store": fleet.trust_store},
        }
    )
    return CentreService.build(config)


def add_events(engine: Engine, prefix: str, count: int, age: dt.timedelta) -> None:
    at = utcnow() - age
    rows = [
        {"message_id": f"{prefix}-{n}", "type": "arrival", "origin": BOXES[0], "created_at": at,
         "received_at": at, "payload": "{}"}
        for n in range(count)
    ]  # fmt: skip
    with engine.begin() as conn:
        conn.execute(insert(events), rows)


def kept_events(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.execute(select(events.c.message_id)).scalars())


def jobs_lock_held_and_purge_waiting(engine: Engine) -> tuple[int, int]:
    """(connections holding the jobs' advisory lock, connections waiting on cis_events)."""
    query = text(
        "SELECT (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND objid = :lock "
        "        AND granted),"
        "       (SELECT count(*) FROM pg_locks WHERE relation = 'cis_events'::regclass "
        "        AND NOT granted)"
    )
    with engine.connect() as conn:
        held, waiting = conn.execute(query, {"lock": JOBS_LOCK}).one()
    return int(held), int(waiting)


def test_periodic_jobs_run_on_one_instance_at_a_time(
    postgres: PostgresServer, scale_fleet: Fleet
) -> None:
    url = postgres.create_database()
    first, second = jobs_service(scale_fleet, url, "1"), jobs_service(scale_fleet, url, "2")
    observer = open_centre_database(url)
    add_events(observer, "old", 3, dt.timedelta(days=70))  # past the 62 days events are kept
    add_events(observer, "new", 2, dt.timedelta(days=1))
    purging = threading.Thread(target=first.run_jobs, name="jobs-1")
    try:
        # The test holds cis_events so that the first instance's purge, once begun, waits.
        with observer.connect() as blocker:
            blocker.exec_driver_sql("LOCK TABLE cis_events IN SHARE MODE")
            purging.start()
            wait_until(
                "instance 1 holding the jobs' lock, its purge waiting on cis_events",
                lambda: jobs_lock_held_and_purge_waiting(observer), lambda s: s == (1, 1), 60.0,
            )  # fmt: skip
            # The second instance's round returns although the table is still held: it never
            # began the purge (which would wait as the first one's does).
            skipping = threading.Thread(target=second.run_jobs, name="jobs-2")
            skipping.start()
            skipping.join(60.0)
            assert not skipping.is_alive()
            assert jobs_lock_held_and_purge_waiting(observer) == (1, 1)
            blocker.rollback()
        purging.join(60.0)
        assert not purging.is_alive()
        assert kept_events(observer) == ["new-0", "new-1"]
        assert jobs_lock_held_and_purge_waiting(observer) == (0, 0)  # released after the round

        # The lock is free again: the second instance's next round purges.
        add_events(observer, "older", 2, dt.timedelta(days=80))
        second.run_jobs()
        assert kept_events(observer) == ["new-0", "new-1"]
    finally:
        purging.join(60.0)
        first.close()
        second.close()
        observer.dispose()
