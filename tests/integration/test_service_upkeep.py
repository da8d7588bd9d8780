"""The running service keeps the box bounded: its retention job purges, its disk check turns
degraded and sheds crops, and its readings queue refuses what is beyond its bound, counted."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import shutil
from pathlib import Path

from sqlalchemy import insert

from edge.arrivals import ArrivalStore
from edge.config import Config, KioskConfig, RetentionConfig
from edge.readings import Health, PresenceChange
from edge.service import EdgeService
from edge.service.upkeep import DISK
from edge.store import open_database
from edge.store.schema import quarantine
from edge.timeutil import utcnow

DEADLINE_S = 60.0
MB = 1024 * 1024


class EventSeen(logging.Handler):
    """Sets an asyncio event when the service logs `event` (on the loop's thread)."""

    def __init__(self, event: str) -> None:
        super().__init__()
        self.event = event
        self.seen: asyncio.Event | None = None
        self.fields: dict[str, object] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.getMessage() == self.event and self.seen is not None:
            self.fields = dict(record.__dict__)
            self.seen.set()


async def run_until_logged(service: EdgeService, event: str) -> dict[str, object]:
    """Run the service until it logs `event`; that record's fields."""
    seen = EventSeen(event)
    seen.seen = asyncio.Event()
    edge_log = logging.getLogger("edge")
    edge_log.setLevel(logging.INFO)
    edge_log.addHandler(seen)
    running = asyncio.create_task(service.run())
    try:
        await asyncio.wait_for(seen.seen.wait(), DEADLINE_S)
    except TimeoutError:
        raise AssertionError(f"the service did not log {event} within {DEADLINE_S} s") from None
    finally:
        edge_log.removeHandler(seen)
        service.stop("test done")
        assert await asyncio.wait_for(running, DEADLINE_S) == 0
    return seen.fields


def no_kiosk(retention: RetentionConfig) -> Config:
    return Config(kiosk=KioskConfig(enabled=False), retention=retention)


def test_the_service_purges_arrivals_and_sync_tables_past_retention(tmp_path: Path) -> None:
    data = tmp_path / "data"
    engine = open_database(data)
    arrivals = ArrivalStore(engine)
    with engine.begin() as conn:  # a message refused long ago, kept for review 90 days
        conn.execute(
            insert(quarantine).values(
                received_at=utcnow() - dt.timedelta(days=100), peer="cis", topic="t",
                reason="bad_signature", detail="-", raw=b"x",
            )
        )  # fmt: skip
    long_ago = utcnow() - dt.timedelta(days=120)
    expired = arrivals.open("1", "camera", long_ago)
    arrivals.close(expired, "timeout", long_ago)
    recent = arrivals.open("1", "camera", utcnow())
    service = EdgeService(no_kiosk(RetentionConfig(undecided_arrival_days=90)), data)

    fields = asyncio.run(run_until_logged(service, "retention.purged"))

    assert fields["arrivals"] == 1
    assert fields["quarantine"] == 1  # sync's own rules ran in the same job
    assert arrivals.get(expired) is None
    assert arrivals.get(recent) is not None


def test_a_disk_short_of_space_degrades_health_and_sheds_crops(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    # Lines far above what this disk has free: the real disk reads as short of space.
    above = shutil.disk_usage(data).free // MB + 10**6
    retention = RetentionConfig(disk_degraded_below_mb=above, disk_shed_below_mb=above)
    service = EdgeService(no_kiosk(retention), data)
    ref = service.crops.save(b"\xff\xd8" + bytes(8000), utcnow())

    fields = asyncio.run(run_until_logged(service, "disk.shed"))

    assert int(str(fields["crop_bytes"])) > 0
    assert service.crops.load(ref) is None
    disk = service.devices[DISK]
    assert disk.health is Health.DEGRADED
    assert "shedding telemetry and crops" in disk.why


def test_a_full_readings_queue_refuses_and_counts_the_overflow(tmp_path: Path) -> None:
    service = EdgeService(no_kiosk(RetentionConfig(readings_queue=100)), tmp_path / "data")

    async def flood() -> None:  # on the loop, with nothing taking readings off the queue
        for second in range(130):
            service._queue_reading(PresenceChange("cam-1", utcnow(), second % 2 == 0))

    asyncio.run(flood())
    assert service.readings.queue.qsize() == 100
    assert service.readings.overflow == 30
    assert service.readings.overflow_by_device == {"cam-1": 30}
