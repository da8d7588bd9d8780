"""Arrivals: the truck now at a lane, with everything its lane's devices read.

An arrival opens when the lane's camera sees a vehicle, when the officer opens one by hand, or
when a device reads something at a lane with none open (nothing read is ever dropped). Each
reading attaches to the lane's open arrival, and the arrival is matched again against the
pre-arrival records. It closes with the officer's decision, by hand, or after it has been idle
for the configured time.

A plate reading's crop is stored as a file (`edge.crops`); its row keeps the reference
(`"crop"`), and reading an arrival back puts the image where the reading had it (`crop_jpeg`,
base64) as long as the file is kept.
"""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import json
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, func, insert, select, update

from edge.config import RetentionConfig
from edge.crops import CROPS_DIR, CropStore
from edge.matching import Matcher, MatchResult, Observation, PlatePosition, PlateRead
from edge.readings import (
    BarcodeRead,
    DocumentRead,
    PlateReading,
    PresenceChange,
    Reading,
    SealRead,
    reading_from_dict,
)
from edge.store.schema import arrival_readings, arrivals
from edge.timeutil import utcnow

# The fields of a scanned code's payload (drivers.codes.Payload.to_dict) that name transit
# documents; its "seals" are seal ids.
REFERENCE_FIELDS = ("mrn", "tir_carnet", "cmr")


@dataclass(frozen=True)
class StoredReading:
    seq: int
    kind: str
    device: str
    at: dt.datetime
    data: dict[str, object]


@dataclass(frozen=True)
class Arrival:
    id: int
    lane: str
    opened_at: dt.datetime
    opened_by: str
    updated_at: dt.datetime
    closed_at: dt.datetime | None
    close_reason: str | None
    best_ref: str | None
    best_score: float | None
    match: dict[str, object] | None
    readings: tuple[StoredReading, ...] = ()

    @property
    def is_open(self) -> bool:
        return self.closed_at is None


def observation_of(readings: Iterable[Reading], at: dt.datetime) -> Observation:
    """What the matcher should know from an arrival's readings."""
    plates: list[PlateRead] = []
    seals: list[str] = []
    references: list[str] = []
    document: str | None = None
    for reading in readings:
        if isinstance(reading, PlateReading):
            for c in reading.candidates:
                position: PlatePosition | None = "trailer" if c.position == "trailer" else None
                plates.append(PlateRead(c.text, max(0.0, min(1.0, c.confidence)), position))
        elif isinstance(reading, SealRead):
            seals.append(reading.seal_id)
        elif isinstance(reading, DocumentRead) and reading.document_number:
            document = reading.document_number  # the latest document read wins
        elif isinstance(reading, BarcodeRead) and reading.payload.get("valid", True):
            payload = reading.payload
            seals += [str(s) for s in payload.get("seals", ())]
            references += [str(payload[f]) for f in REFERENCE_FIELDS if payload.get(f)]
    return Observation(
        plates=tuple(plates),
        seals=tuple(dict.fromkeys(seals)) if seals else None,
        document=document,
        references=tuple(dict.fromkeys(references)),
        at=at,
    )


def default_crop_store(engine: Engine) -> CropStore | None:
    """Crops beside the database file, with the default retention; None for a database in
    memory (its crops stay in the rows)."""
    database = engine.url.database
    if not database or database == ":memory:":
        return None
    defaults = RetentionConfig()
    return CropStore(
        Path(database).parent / CROPS_DIR,
        defaults.crop_quota_mb * 1024 * 1024,
        dt.timedelta(days=defaults.crop_days),
    )


class ArrivalStore:
    """Arrivals and their readings in SQLite; every write is one durable transaction."""

    def __init__(self, engine: Engine, crops: CropStore | None = None) -> None:
        self.engine = engine
        self.crops = crops if crops is not None else default_crop_store(engine)

    def _stored_form(self, reading: Reading) -> dict[str, Any]:
        data = reading.to_dict()
        if isinstance(reading, PlateReading) and reading.crop_jpeg and self.crops is not None:
            del data["crop_jpeg"]
            data["crop"] = self.crops.save(reading.crop_jpeg, reading.at)
        return data

    def _read_form(self, data: dict[str, Any], crops: bool = True) -> dict[str, Any]:
        ref = data.get("crop")
        if crops and isinstance(ref, str) and self.crops is not None:
            jpeg = self.crops.load(ref)
            if jpeg is not None:
                data["crop_jpeg"] = base64.b64encode(jpeg).decode("ascii")
        return data

    def open(self, lane: str, opened_by: str, at: dt.datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(
                insert(arrivals).values(lane=lane, opened_at=at, opened_by=opened_by, updated_at=at)
            )
            return int(result.inserted_primary_key[0])  # type: ignore[index]

    def open_for_lane(self, lane: str) -> int | None:
        with self.engine.connect() as conn:
            return conn.execute(
                select(arrivals.c.id)
                .where(arrivals.c.lane == lane, arrivals.c.closed_at.is_(None))
                .order_by(arrivals.c.id.desc())
                .limit(1)
            ).scalar()

    def add_reading(self, arrival_id: int, reading: Reading) -> int:
        data = self._stored_form(reading)  # the crop's file first: a row never names none
        with self.engine.begin() as conn:
            seq = (
                conn.execute(
                    select(func.max(arrival_readings.c.seq)).where(
                        arrival_readings.c.arrival_id == arrival_id
                    )
                ).scalar()
                or 0
            ) + 1
            conn.execute(
                insert(arrival_readings).values(
                    arrival_id=arrival_id,
                    seq=seq,
                    kind=reading.kind,
                    device=reading.device,
                    at=reading.at,
                    reading=json.dumps(data, ensure_ascii=False),
                )
            )
            conn.execute(
                update(arrivals).where(arrivals.c.id == arrival_id).values(updated_at=utcnow())
            )
            return seq

    def set_match(self, arrival_id: int, result: MatchResult) -> None:
        best = result.best
        with self.engine.begin() as conn:
            conn.execute(
                update(arrivals)
                .where(arrivals.c.id == arrival_id)
                .values(
                    best_ref=best.ref if best else None,
                    best_score=best.score if best else None,
                    match=json.dumps(result.to_dict(), ensure_ascii=False),
                    updated_at=utcnow(),  # watchers of the table see the new match
                )
            )

    def close(
        self, arrival_id: int, reason: str, at: dt.datetime, conn: Connection | None = None
    ) -> bool:
        """Close an open arrival (in the caller's transaction, if given); False when it was
        not open."""
        if conn is None:
            with self.engine.begin() as own:
                return self.close(arrival_id, reason, at, own)
        result = conn.execute(
            update(arrivals)
            .where(arrivals.c.id == arrival_id, arrivals.c.closed_at.is_(None))
            .values(closed_at=at, close_reason=reason, updated_at=at)
        )
        return result.rowcount == 1

    def idle_since(self, before: dt.datetime) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(arrivals.c.id).where(
                        arrivals.c.closed_at.is_(None), arrivals.c.updated_at < before
                    )
                ).scalars()
            )

    def get(self, arrival_id: int, crops: bool = True) -> Arrival | None:
        """The arrival with its readings; `crops=False` leaves the crop files unread (matching
        needs none)."""
        with self.engine.connect() as conn:
            row = conn.execute(select(arrivals).where(arrivals.c.id == arrival_id)).one_or_none()
            if row is None:
                return None
            readings = conn.execute(
                select(arrival_readings)
                .where(arrival_readings.c.arrival_id == arrival_id)
                .order_by(arrival_readings.c.seq)
            ).all()
        return Arrival(
            id=row.id,
            lane=row.lane,
            opened_at=row.opened_at,
            opened_by=row.opened_by,
            updated_at=row.updated_at,
            closed_at=row.closed_at,
            close_reason=row.close_reason,
            best_ref=row.best_ref,
            best_score=row.best_score,
            match=json.loads(row.match) if row.match else None,
            readings=tuple(
                StoredReading(
                    r.seq, r.kind, r.device, r.at, self._read_form(json.loads(r.reading), crops)
                )
                for r in readings
            ),
        )

    def open_arrivals(self) -> list[int]:
        with self.engine.connect() as conn:
            return list(
                conn.execute(
                    select(arrivals.c.id)
                    .where(arrivals.c.closed_at.is_(None))
                    .order_by(arrivals.c.id)
                ).scalars()
            )


class Lanes:
    """Attaches readings to the truck at each lane and keeps its match current.

    Not thread-safe: the service calls it from its one store thread. The readings of open
    arrivals are also kept in memory, typed, so re-matching never re-parses them.
    """

    def __init__(self, store: ArrivalStore, matcher: Matcher, idle_timeout: dt.timedelta) -> None:
        self.store = store
        self.matcher = matcher
        self.idle_timeout = idle_timeout
        self._open: dict[int, list[Reading]] = {}

    def open(self, lane: str, opened_by: str = "manual", at: dt.datetime | None = None) -> int:
        """Open an arrival by hand: one already open at the lane is closed as superseded."""
        now = at or utcnow()
        current = self.store.open_for_lane(lane)
        if current is not None:
            self.close(current, "superseded", now)
        return self._open_new(lane, opened_by, now)

    def on_reading(self, lane: str, reading: Reading) -> int | None:
        """Attach a reading to the lane's truck; the arrival's id (None for a vehicle leaving)."""
        arrival_id = self.store.open_for_lane(lane)
        if isinstance(reading, PresenceChange):
            if reading.present and arrival_id is None:
                return self._open_new(lane, "camera", reading.at)
            return arrival_id  # a vehicle leaving the view does not end its arrival
        if arrival_id is None:
            arrival_id = self._open_new(lane, reading.kind, reading.at)
        self.store.add_reading(arrival_id, reading)
        if arrival_id in self._open:
            self._open[arrival_id].append(_without_crop(reading))
        self.rematch(arrival_id)  # reads the arrival back when this process did not open it
        return arrival_id

    def rematch(self, arrival_id: int) -> MatchResult:
        arrival = self.store.get(arrival_id, crops=False)
        if arrival is None:
            raise KeyError(f"no arrival {arrival_id}")
        readings = self._open.get(arrival_id)
        if readings is None:  # opened before this process started: read back from the store
            readings = [_without_crop(reading_from_dict(r.data)) for r in arrival.readings]
            if arrival.is_open:
                self._open[arrival_id] = readings
        result = self.matcher.match(observation_of(readings, arrival.opened_at))
        self.store.set_match(arrival_id, result)
        return result

    def close(
        self,
        arrival_id: int,
        reason: str,
        at: dt.datetime | None = None,
        conn: Connection | None = None,
    ) -> bool:
        self._open.pop(arrival_id, None)  # read back from the store if the caller rolls back
        return self.store.close(arrival_id, reason, at or utcnow(), conn)

    def expire_idle(self, now: dt.datetime | None = None) -> list[int]:
        """Close the arrivals nothing has happened to for the idle timeout."""
        now = now or utcnow()
        expired = self.store.idle_since(now - self.idle_timeout)
        for arrival_id in expired:
            self.close(arrival_id, "timeout", now)
        return expired

    def _open_new(self, lane: str, opened_by: str, at: dt.datetime) -> int:
        arrival_id = self.store.open(lane, opened_by, at)
        self._open[arrival_id] = []
        return arrival_id


def _without_crop(reading: Reading) -> Reading:
    """The reading as matching needs it: a crop kept in memory for every open truck would
    only weigh on the service."""
    if isinstance(reading, PlateReading) and reading.crop_jpeg:
        return dataclasses.replace(reading, crop_jpeg=None)
    return reading
