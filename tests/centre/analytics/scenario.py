"""A month at two posts, sent through the centre's real inbox: KZ-KORGAS-1 on the CIE link
with Kyrgyzstan (KG's records straight in, KG's exit confirmations relayed by KG's centre) and
KZ-NURZHOLY-1 on the SIE link with China (CN's records held in the review queue until an
operator approves them). The boxes sign their arrivals and decisions; a settable clock says
when each thing happens, so every expected figure follows from this plan alone (`Truck`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from centre.analytics.collect import Link
from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import CentreConfig
from centre.partner_inbox import Relaying, partner_appliers
from centre.relay_tap import RelayTap
from centre.routing import Routing
from centre.service import CentreService
from edge.manifest import Manifest, parse_manifest
from edge.timeutil import set_clock, utcnow
from provisioning.identity.fleet import Fleet
from provisioning.identity.trust import TrustStore
from sync.envelope import Envelope
from sync.inbox import Inbox, Incoming, Outcome
from sync.messages import (
    ArrivalMessage,
    DecisionMessage,
    ExitConfirmationMessage,
    ManifestMessage,
    ManifestRef,
)
from sync.setup import key_lookup
from sync.topics import topic_of
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, KG_CENTRE, KORGAS, NURZHOLY, TORUGART, make_centre
from tests.fixtures.records import record

CN_CENTRE = "CN-CIS"
NODES = [CENTRE, KG_CENTRE, CN_CENTRE, NURZHOLY, KORGAS, TORUGART]
ROUTING = {"KZ051900": [NURZHOLY], "KZ051100": [KORGAS]}
LINKS = [Link("KG", KG_CENTRE, "cie"), Link("CN", CN_CENTRE, "sie")]
DAYS = 6
RECORDS_AT = dt.timedelta(hours=0)  # the KZ CIS's and KG's records reach the centre
EXITS_AT = dt.timedelta(hours=1)  # KG's exit confirmations
APPROVED_AT = dt.timedelta(hours=2)  # CN's records, once approved


@dataclass
class Clock:
    at: dt.datetime

    def __call__(self) -> dt.datetime:
        return self.at


@dataclass(frozen=True)
class Truck:
    post: str
    arrival_id: int
    opened_at: dt.datetime
    issuer: str | None  # the record it fits (None: none)
    ref: str | None
    score: float | None
    codes: tuple[str, ...]
    lane: str  # the risk lane edge.risk's rules give it
    decision_after_s: int | None  # None: not decided
    kind: str
    record_at: dt.datetime | None  # when the centre received its record
    exit_at: dt.datetime | None  # when the partner's exit confirmation reached the centre
    decided_ref: str | None = None  # the record the officer decided on, when not `ref`

    @property
    def covered(self) -> bool:
        known = [t for t in (self.record_at, self.exit_at) if t is not None]
        return any(t <= self.opened_at for t in known)


@dataclass
class Scenario:
    service: CentreService
    base: dt.datetime
    trucks: list[Truck] = field(default_factory=list)

    @property
    def month(self) -> str:
        return self.base.strftime("%Y-%m")


def first_of_next_month() -> dt.datetime:
    now = utcnow()
    first = (now.replace(day=28) + dt.timedelta(days=4)).replace(day=1)
    return first.replace(hour=0, minute=0, second=0, microsecond=0)


def config(fleet: Fleet, url: str, root: Path) -> CentreConfig:
    for name in ("out", "in"):
        (root / name).mkdir(parents=True, exist_ok=True)
    return CentreConfig.model_validate({
        "centre": {"id": CENTRE, "database": url},
        "identity": {"identity_dir": fleet.nodes[CENTRE], "trust_store": fleet.trust_store},
        "routing": ROUTING,
        "partners": [
            {"country": "KG", "centre": KG_CENTRE, "mode": "cie", "host": "127.0.0.1",
             "ca_file": fleet.ca_bundle},
            {"country": "CN", "centre": CN_CENTRE, "mode": "sie", "bundle_out": root / "out",
             "bundle_in": root / "in"},
        ],
    })  # fmt: skip


def plan(base: dt.datetime) -> list[Truck]:
    """Korgas: 4 trucks a day, KG's records (CIE), KZ's records confirmed at exit by KG, and
    one truck a day with no record. Nurzholy: 3 a day on CN's records (SIE), approved two hours
    into the month, some with discrepancies, slower decisions, one a day left undecided."""
    trucks: list[Truck] = []
    records_at, exits_at, approved_at = base + RECORDS_AT, base + EXITS_AT, base + APPROVED_AT
    n = 0
    for day in range(DAYS):
        for i in range(4):
            n += 1
            opened = base + dt.timedelta(days=day, hours=1 + 5 * i, minutes=7 * i)
            kind = "physical_inspection" if n % 5 == 0 else "release"
            delay = 40 + (n * 37) % 300
            if i == 3:  # no record fits: red
                trucks.append(Truck(KORGAS, n, opened, None, None, None, ("NO_PRE_ARRIVAL",),
                                    "red", delay, kind, None, None))  # fmt: skip
            elif i == 2:  # the KZ CIS's record, confirmed at exit by KG's post
                trucks.append(Truck(KORGAS, n, opened, CENTRE, f"KZR{n:04d}", 0.93, (), "green",
                                    delay, kind, records_at, exits_at))  # fmt: skip
            else:  # KG's record, straight over the CIE link
                trucks.append(Truck(KORGAS, n, opened, KG_CENTRE, f"KGR{n:04d}", 0.91, (),
                                    "green", delay, kind, records_at, None))  # fmt: skip
    for day in range(DAYS):
        for i in range(3):
            n += 1
            opened = base + dt.timedelta(days=day, hours=1 + 7 * i, minutes=3 * n % 50)
            codes: tuple[str, ...] = ()
            lane = "green"
            if i == 1:
                codes, lane = ("PLATE_APPROXIMATE",), "yellow"
            if i == 2 and day % 2 == 0:
                codes, lane = ("SEAL_MISSING", "PLATE_APPROXIMATE"), "red"
            kind = "documentary_check" if n % 3 == 0 else "release"
            late: int | None = None if i == 2 and day == 3 else 300 + (n * 113) % 1500
            trucks.append(Truck(NURZHOLY, n, opened, CN_CENTRE, f"CNR{n:04d}", 0.88, codes, lane,
                                late, kind, approved_at, None,
                                decided_ref=f"CNR{n - 1:04d}" if n == 30 else None))  # fmt: skip
    return trucks


def manifest(issuer: str, ref: str, office: str) -> dict[str, object]:
    return record(ref=ref, issuer=issuer, office_border=office, office_departure=None,
                  office_destination=None)  # fmt: skip


def handed(sent: list[tuple[Envelope, bytes]]) -> list[Incoming]:
    return [Incoming("broker", topic_of(e), data) for e, data in sent]


def applied(inbox: Inbox, incoming: list[Incoming]) -> None:
    results = inbox.receive(incoming)
    assert [r.outcome for r in results] == [Outcome.APPLIED] * len(incoming), results


@contextmanager
def clocked(start: dt.datetime) -> Iterator[Clock]:
    clock = Clock(start)
    set_clock(clock)
    try:
        yield clock
    finally:
        set_clock(None)


def build(fleet: Fleet, url: str, root: Path, clock: Clock) -> Scenario:
    """The centre as `carec-edge centre run` builds it, fed the plan's month."""
    base = clock.at
    service = CentreService.build(config(fleet, url, root / "kz"))
    scenario = Scenario(service, base, plan(base))
    trucks = scenario.trucks
    boxes = {node: Box(fleet, node, root / "boxes" / node) for node in (NURZHOLY, KORGAS)}
    office = {KORGAS: "KZ051100", NURZHOLY: "KZ051900"}
    kg_box, cn_box = Box(fleet, KG_CENTRE, root / "kg-cis"), Box(fleet, CN_CENTRE, root / "cn")

    clock.at = base + RECORDS_AT
    own = [parse_manifest(manifest(CENTRE, t.ref, office[t.post]))
           for t in trucks if t.issuer == CENTRE and t.ref]  # fmt: skip
    service.desk.submit(own, "api:cis")
    kg_records = [ManifestMessage(record=manifest(KG_CENTRE, t.ref, office[t.post]))
                  for t in trucks if t.issuer == KG_CENTRE and t.ref]  # fmt: skip
    applied(service.inbox, kg_box.send(kg_records, CENTRE))  # type: ignore[arg-type]

    clock.at = base + EXITS_AT
    _relay_exits(fleet, root, service, [t for t in trucks if t.exit_at is not None], own)

    clock.at = base + dt.timedelta(minutes=90)
    cn_records = [ManifestMessage(record=manifest(CN_CENTRE, t.ref, office[t.post]))
                  for t in trucks if t.issuer == CN_CENTRE and t.ref]  # fmt: skip
    applied(service.inbox, cn_box.send(cn_records, CENTRE))  # type: ignore[arg-type]
    clock.at = base + APPROVED_AT
    for held in service.review.pending():
        service.review.approve(held.id, "olga", "checked against the partner's bundle")

    for truck in sorted(trucks, key=lambda t: t.opened_at):
        clock.at = truck.opened_at + dt.timedelta(seconds=5)
        sends = 2 if truck.arrival_id == 7 else 1  # one arrival sent twice: one truck
        for _ in range(sends):
            applied(service.inbox, boxes[truck.post].send([arrival_of(truck)]))
    for truck in sorted(trucks, key=lambda t: t.opened_at):
        if truck.decision_after_s is None:
            continue
        clock.at = truck.opened_at + dt.timedelta(seconds=truck.decision_after_s)
        applied(service.inbox, boxes[truck.post].send([decision_of(truck, clock.at)]))
    return scenario


def arrival_of(truck: Truck) -> ArrivalMessage:
    return ArrivalMessage(
        node=truck.post, lane="1", arrival_id=truck.arrival_id, opened_at=truck.opened_at,
        best_ref=truck.ref, best_score=truck.score, discrepancies=truck.codes,
    )  # fmt: skip


def decision_of(truck: Truck, at: dt.datetime) -> DecisionMessage:
    ref = truck.decided_ref or truck.ref
    return DecisionMessage(
        arrival={"node": truck.post, "arrival_id": truck.arrival_id},
        manifest=ManifestRef(ref=ref, issuer=truck.issuer) if ref and truck.issuer else None,
        decision=truck.kind, reason="CLEAR", officer="officer-7", decided_at=at,
    )  # fmt: skip


def _relay_exits(
    fleet: Fleet, root: Path, service: CentreService, trucks: list[Truck], records: list[Manifest]
) -> None:
    """KG's exit post confirms each record; KG's centre relays it to this centre."""
    by_ref = {r.ref: r for r in records}
    kg = make_centre(f"sqlite:///{root / 'kg.sqlite3'}", fleet, KG_CENTRE,
                     Routing({"KG417000": [TORUGART]}, {"KZ": CENTRE}))  # fmt: skip
    key_for = key_lookup(TrustStore.load(fleet.trust_store))
    kg_inbox = Inbox(
        kg.engine, KG_CENTRE, key_for,
        centre_appliers(kg.outbox, partner_appliers(kg.desk, {CENTRE: "cie"}, None,
                                                    Relaying(key_for, frozenset()))),
        acknowledge=centre_acknowledger(kg.outbox),
    )  # fmt: skip
    tap = RelayTap(kg.engine, kg.outbox, key_for, {"KZ": CENTRE}, kg_inbox)
    exit_post = Box(fleet, TORUGART, root / "boxes" / TORUGART)
    for truck in trucks:
        confirmation = ExitConfirmationMessage(
            record=by_ref[truck.ref or ""], exited_at=utcnow(), exit_node=TORUGART
        )
        tap.receive(exit_post.send([confirmation], truck.post))
    applied(service.inbox, handed(kg.sent_raw(CENTRE)))
