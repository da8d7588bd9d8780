"""From the centre's own tables to tallies per post, day and lane.

What is read, each by an indexed range: the boxes' arrivals and decisions and the partners'
exit confirmations in `cis_events` (by `received_at`: what came during the period and up to
LATE after it, since a box offline for a while sends late), and, for the records the trucks
matched, when the centre first received each (`cis_records`, by its (issuer, ref) key, in
chunks). Nothing is written: the figures are computed on request (a rollup table would make a
year cheap; see the report of issue 18).

A truck is one arrival (the newest message of each box's arrival id); its decision is the
first final decision on it (the time it waited) with the kind and record of the latest (a
reopened truck's). Its lane is the risk lane (green, yellow, red) the box reports, or else the
one `edge.risk.assess` gives from the match it reports. Its link is the partner country whose
record it matched or whose exit post confirmed its record; a post's link is the one most of
its linked trucks came over."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence, Set
from dataclasses import dataclass, field
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, select, tuple_

from centre.analytics.figures import Tally, merged
from centre.store.schema import events, records, risk_inspection_results
from edge.decisions import DecisionKind
from edge.discrepancies import DiscrepancyCode
from edge.risk import assess
from edge.timeutil import parse_utc

LATE = dt.timedelta(days=14)  # events received this long after the period still count
EXIT_LOOKBACK = dt.timedelta(days=14)  # an exit confirmation this long before the period
MAX_DAYS = 92
LOOKUP_CHUNK = 500
INSPECTIONS = frozenset(
    {DecisionKind.DOCUMENTARY_CHECK.value, DecisionKind.PHYSICAL_INSPECTION.value}
)
LANES = ("green", "yellow", "red")
_KNOWN_CODES = frozenset(c.value for c in DiscrepancyCode)

Cell = tuple[str, dt.date, str]  # post, day, lane
_Key = tuple[str, int]  # the box's node and its arrival id
_Record = tuple[str, str]  # issuer, ref


class PeriodError(ValueError):
    """A period that cannot be reported, naming the fix."""


@dataclass(frozen=True)
class Period:
    start: dt.date
    end: dt.date  # the day after the last

    def __post_init__(self) -> None:
        if self.end <= self.start:
            raise PeriodError(f"{self.start} to {self.end}: the end must come after the start")
        if (self.end - self.start).days > MAX_DAYS:
            raise PeriodError(f"at most {MAX_DAYS} days at once; ask for a month")

    @classmethod
    def month(cls, text: str) -> Period:
        """`2026-11`: that calendar month."""
        try:
            first = dt.date.fromisoformat(text + "-01")
        except ValueError:
            raise PeriodError(f"month {text[:20]!r}: write it as YYYY-MM, e.g. 2026-11") from None
        following = (first.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
        return cls(first, following)

    @property
    def label(self) -> str:
        last = self.end - dt.timedelta(days=1)
        if self.start.day == 1 and last.month == self.start.month and self.end.day == 1:
            return self.start.strftime("%Y-%m")
        return f"{self.start.isoformat()} – {last.isoformat()}"

    def days(self) -> list[dt.date]:
        return [self.start + dt.timedelta(days=n) for n in range((self.end - self.start).days)]

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        def at(day: dt.date) -> dt.datetime:
            return dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)

        return at(self.start), at(self.end)


@dataclass(frozen=True)
class Link:
    """A partner link as the centre's [[partners]] names it."""

    country: str
    centre: str  # the partner centre's node id, the issuer of its records
    mode: str  # cie or sie


@dataclass
class Analytics:
    """Tallies per (post, day, lane) of a period, and what each post's link is."""

    period: Period
    country: str
    links: dict[str, Link]  # by partner country
    cells: dict[Cell, Tally] = field(default_factory=dict)
    post_links: dict[str, str | None] = field(default_factory=dict)  # post -> partner country

    def posts(self) -> list[str]:
        return sorted({post for post, _day, _lane in self.cells})

    def mode_of_post(self, post: str) -> str | None:
        country = self.post_links.get(post)
        link = self.links.get(country) if country else None
        return link.mode if link else None

    def posts_of_link(self, country: str) -> list[str]:
        return [p for p in self.posts() if self.post_links.get(p) == country]

    def posts_of_mode(self, mode: str) -> list[str]:
        return [p for p in self.posts() if self.mode_of_post(p) == mode]

    def tally(
        self, posts: Iterable[str] | None = None, day: dt.date | None = None,
        lane: str | None = None,
    ) -> Tally:  # fmt: skip
        chosen = None if posts is None else set(posts)
        return merged(
            t for (p, d, la), t in self.cells.items()
            if (chosen is None or p in chosen) and (day is None or d == day)
            and (lane is None or la == lane)
        )  # fmt: skip


@dataclass
class _Arrival:
    post: str
    opened_at: dt.datetime
    lane: str
    best_ref: str | None
    discrepancies: tuple[str, ...]
    ambiguous: bool | None


@dataclass
class _Decision:
    first_at: dt.datetime
    last_at: dt.datetime
    kind: str
    record: _Record | None


def compute(
    engine: Engine, period: Period, centre_id: str, links: Sequence[Link] = ()
) -> Analytics:
    """The period's tallies from the centre's tables: the one computation behind every page,
    CSV file and report."""
    country = centre_id[:2]
    result = Analytics(period, country, {link.country: link for link in links})
    start, end = period.bounds()
    with engine.connect() as conn:
        arrivals = _arrivals(conn, start, end)
        decisions = _decisions(conn, start, end, set(arrivals))
        exits = _exit_confirmations(conn, start - EXIT_LOOKBACK, end, country)
        issuers = [centre_id, *(link.centre for link in links)]
        wanted = _wanted_records(arrivals, decisions, issuers)
        received = _records_received(conn, wanted)
        results = _inspection_results(conn, start, end, set(arrivals))
    votes: dict[str, Counter[str]] = {}
    for key, arrival in arrivals.items():
        decision = decisions.get(key)
        record = _record_of(arrival, decision, received.keys() | exits.keys(), issuers)
        partner = _partner_of(record, exits, country)
        if partner is not None:
            votes.setdefault(arrival.post, Counter())[partner] += 1
        cell = (arrival.post, arrival.opened_at.date(), arrival.lane)
        tally = result.cells.setdefault(cell, Tally())
        _count(tally, arrival, decision, record, received, exits)
        found = results.get(key)
        if found is not None:  # the check's result, as the box's officer recorded it
            tally.inspection_results += 1
            tally.inspection_hits += found
    for post in result.posts():
        counted = votes.get(post)
        result.post_links[post] = min(counted, key=lambda c: (-counted[c], c)) if counted else None
    return result


def _count(
    tally: Tally, arrival: _Arrival, decision: _Decision | None, record: _Record | None,
    received: Mapping[_Record, dt.datetime], exits: Mapping[_Record, tuple[dt.datetime, str]],
) -> None:  # fmt: skip
    tally.trucks += 1
    if arrival.best_ref is not None:
        tally.matched += 1
    if arrival.ambiguous is not None:
        tally.ambiguity_reported += 1
        tally.ambiguous += arrival.ambiguous
    if arrival.discrepancies:
        tally.with_discrepancies += 1
        tally.discrepancies.update(dict.fromkeys(arrival.discrepancies, 1))
    if record is not None:
        before = [t for t in (received.get(record), exits.get(record, (None,))[0]) if t]
        if any(t <= arrival.opened_at for t in before):
            tally.covered += 1
        if record in exits:
            exit_at = exits[record][0]
            tally.exit_confirmations += 1
            if exit_at <= arrival.opened_at:
                tally.exit_lead_s.append((arrival.opened_at - exit_at).total_seconds())
    if decision is not None:
        tally.decided += 1
        tally.decision_s.append(max(0.0, (decision.first_at - arrival.opened_at).total_seconds()))
        if decision.kind in INSPECTIONS:
            tally.inspections += 1
        if arrival.best_ref is not None and decision.record is not None:
            tally.changed += decision.record[1] != arrival.best_ref


def _rows(conn: Connection, kind: str, start: dt.datetime, end: dt.datetime) -> Iterator[Any]:
    statement = (
        select(events.c.origin, events.c.received_at, events.c.payload)
        .where(events.c.received_at >= start, events.c.received_at < end + LATE)
        .where(events.c.type == kind)
        .order_by(events.c.received_at, events.c.id)
    )
    yield from conn.execution_options(yield_per=2000).execute(statement)


def _arrivals(conn: Connection, start: dt.datetime, end: dt.datetime) -> dict[_Key, _Arrival]:
    found: dict[_Key, _Arrival] = {}
    for row in _rows(conn, "arrival", start, end):
        data = orjson.loads(row.payload)
        opened = parse_utc(data["opened_at"])
        if not start <= opened < end:
            continue
        codes = tuple(str(c) for c in data.get("discrepancies", ()))
        ambiguous = data.get("ambiguous")
        lane = data.get("risk_lane")
        if lane not in LANES:
            lane = assess(
                data.get("best_score"),
                [DiscrepancyCode(c) for c in codes if c in _KNOWN_CODES],
                ambiguous=bool(ambiguous),
            ).lane.value
        found[(data["node"], int(data["arrival_id"]))] = _Arrival(
            data["node"], opened, lane, data.get("best_ref"), codes,
            None if ambiguous is None else bool(ambiguous),
        )  # fmt: skip
    return found


def _decisions(
    conn: Connection, start: dt.datetime, end: dt.datetime, wanted: set[_Key]
) -> dict[_Key, _Decision]:
    found: dict[_Key, _Decision] = {}
    for row in _rows(conn, "decision", start, end):
        data = orjson.loads(row.payload)
        key = (data["arrival"]["node"], int(data["arrival"]["arrival_id"]))
        if key not in wanted:
            continue
        at = parse_utc(data["decided_at"])
        manifest = data.get("manifest")
        record = (manifest["issuer"], manifest["ref"]) if manifest else None
        known = found.get(key)
        if known is None:
            found[key] = _Decision(at, at, data["decision"], record)
            continue
        known.first_at = min(known.first_at, at)
        if at >= known.last_at:
            known.last_at, known.kind, known.record = at, data["decision"], record
    return found


def _inspection_results(
    conn: Connection, start: dt.datetime, end: dt.datetime, wanted: set[_Key]
) -> dict[_Key, bool]:
    """Whether each arrival's check found something (centre.risk_profiles keeps the boxes'
    inspection results); an arrival with several results counts once, found if any found."""
    found: dict[_Key, bool] = {}
    rows = conn.execute(
        select(
            risk_inspection_results.c.node, risk_inspection_results.c.arrival_id,
            risk_inspection_results.c.outcome,
        ).where(
            risk_inspection_results.c.recorded_at >= start,
            risk_inspection_results.c.recorded_at < end + LATE,
        )
    )  # fmt: skip
    for node, arrival_id, outcome in rows:
        key = (node, int(arrival_id))
        if key in wanted:
            found[key] = found.get(key, False) or outcome == "found"
    return found


def _exit_confirmations(
    conn: Connection, start: dt.datetime, end: dt.datetime, country: str
) -> dict[_Record, tuple[dt.datetime, str]]:
    """A partner's exit confirmations by record: when the first reached this centre, and the
    partner's country (this country's own exits go the other way)."""
    found: dict[_Record, tuple[dt.datetime, str]] = {}
    for row in _rows(conn, "exit_confirmation", start, end):
        partner = row.origin[:2]
        if partner == country:
            continue
        data = orjson.loads(row.payload)
        key = (data["record"]["issuer"], data["record"]["ref"])
        if key not in found or row.received_at < found[key][0]:
            found[key] = (row.received_at, partner)
    return found


def _wanted_records(
    arrivals: Mapping[_Key, _Arrival], decisions: Mapping[_Key, _Decision],
    issuers: Sequence[str],
) -> set[_Record]:  # fmt: skip
    wanted: set[_Record] = set()
    for key, arrival in arrivals.items():
        decision = decisions.get(key)
        if decision is not None and decision.record is not None:
            wanted.add(decision.record)
        elif arrival.best_ref is not None:
            # The arrival names the ref only: the record of one of the issuers this centre hears.
            wanted.update((issuer, arrival.best_ref) for issuer in issuers)
    return wanted


def _records_received(conn: Connection, wanted: set[_Record]) -> dict[_Record, dt.datetime]:
    keys = sorted(wanted)
    found: dict[_Record, dt.datetime] = {}
    key = tuple_(records.c.issuer, records.c.ref)
    for first in range(0, len(keys), LOOKUP_CHUNK):
        part = keys[first : first + LOOKUP_CHUNK]
        statement = select(records.c.issuer, records.c.ref, records.c.received_at)
        for row in conn.execute(statement.where(key.in_(part))):
            found[(row.issuer, row.ref)] = row.received_at
    return found


def _record_of(
    arrival: _Arrival, decision: _Decision | None, known: Set[_Record], issuers: Sequence[str]
) -> _Record | None:
    if decision is not None and decision.record is not None:
        return decision.record
    if arrival.best_ref is None:
        return None
    for issuer in issuers:
        if (issuer, arrival.best_ref) in known:
            return (issuer, arrival.best_ref)
    return (issuers[0], arrival.best_ref)


def _partner_of(
    record: _Record | None, exits: Mapping[_Record, tuple[dt.datetime, str]], country: str
) -> str | None:
    if record is None:
        return None
    if record[0][:2] != country:
        return record[0][:2]
    if record in exits:
        return exits[record][1]
    return None
