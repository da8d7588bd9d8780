"""The hit rate of the checks the boxes report (inspection_result, through the centre's real
inbox): per post, day and lane, checks whose result came back, and of those, the ones that
found something; an arrival with no result is not counted, one reported twice counts once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from centre.analytics.collect import Period, compute
from centre.analytics.figures import Figures
from edge.risk_profiles.inspection import Finding
from provisioning.identity.fleet import Fleet
from sync.messages import InspectionResultMessage
from tests.centre.analytics.scenario import LINKS, Scenario, applied
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, KORGAS


def result(truck_id: int, result_id: int, found: bool, at: dt.datetime) -> InspectionResultMessage:
    return InspectionResultMessage(
        arrival={"node": KORGAS, "arrival_id": truck_id}, result_id=result_id,
        decision="physical_inspection", outcome="found" if found else "nothing_found",
        findings=(Finding.SEAL,) if found else (), officer="officer-7", lane="red",
        random="red", recorded_at=at,
    )  # fmt: skip


def test_reported_checks_give_the_hit_rate(
    scenario: Scenario, analytics_fleet: Fleet, tmp_path: Path
) -> None:
    inspected = [
        t for t in scenario.trucks
        if t.post == KORGAS and t.kind == "physical_inspection" and t.decision_after_s is not None
    ]  # fmt: skip
    assert len(inspected) >= 4
    reported = inspected[:-1]  # the last one's result never came
    found = {t.arrival_id for t in reported[::2]}  # every other check found something
    box = Box(analytics_fleet, KORGAS, tmp_path / "boxes" / KORGAS)
    messages = [
        result(t.arrival_id, n, t.arrival_id in found, t.opened_at + dt.timedelta(hours=1))
        for n, t in enumerate(reported, start=1)
    ]
    messages.append(result(reported[0].arrival_id, 99, False, reported[0].opened_at))  # again
    applied(scenario.service.inbox, box.send(messages))  # type: ignore[arg-type]

    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    tally = analytics.tally()
    assert tally.inspection_results == len(reported)
    assert tally.inspection_hits == len(found)
    figures = Figures.of(tally)
    assert figures.hit_pct is not None
    assert abs(figures.hit_pct - 100 * len(found) / len(reported)) < 0.1
