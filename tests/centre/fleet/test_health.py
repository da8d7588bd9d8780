"""Health reports as the boxes send them: the latest kept with its colour, each alert rule
raised when it first holds and cleared when it no longer does, a silent box noticed by the
periodic check, and the history downsampled into bounded buckets."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from sqlalchemy import func, select

from centre.fleet.alerts import check_silence
from centre.fleet.history import bucket_of
from centre.store.schema import fleet_alerts, fleet_health_history
from edge.timeutil import system_utcnow, utcnow
from sync.messages import ClockReport, DeviceHealthReport
from tests.centre.fleet.conftest import KORGAS, NURZHOLY, FleetCentre, healthy

DAY = dt.timedelta(days=1)


def open_alerts(fleet_centre: FleetCentre, node: str = NURZHOLY) -> set[tuple[str, str]]:
    detail = fleet_centre.desk.box(node)
    assert detail is not None
    return {(a.kind, a.subject) for a in detail.alerts if a.cleared_at is None}


def test_a_healthy_box_is_green_with_its_report_kept(fleet_centre: FleetCentre) -> None:
    fleet_centre.receive(NURZHOLY, [healthy(software_version="1.4.2")])
    [summary] = fleet_centre.desk.boxes()
    assert (summary.node_id, summary.colour, summary.state) == (NURZHOLY, "green", "reporting")
    assert (summary.country, summary.crossing, summary.open_alerts) == ("KZ", "NURZHOLY", 0)
    assert summary.software_version == "1.4.2"
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert detail.health is not None
    assert detail.health["disk_used_pct"] == 41.5


RULES: dict[str, tuple[dict[str, Any], tuple[str, str], str, str]] = {
    # name: (what the report says, the alert (kind, subject), words of its reason, colour)
    "disk": ({"disk_used_pct": 93.2}, ("disk", ""), "93.2% used", "red"),
    "device": (
        {
            "devices": (
                DeviceHealthReport(
                    id="seal-1",
                    kind="seal_reader",
                    lane="2",
                    health="disconnected",
                    why="no answer for 30 s",
                ),
            )
        },
        ("device", "seal-1"),
        "seal-1 on lane 2 disconnected (no answer for 30 s)",
        "amber",
    ),
    "clock_skew": (
        {"clock": ClockReport(source="chrony", synchronised=True, offset_ms=-3400.0)},
        ("clock", ""),
        "off by -3.4 s",
        "red",
    ),
    "clock_unsynchronised": (
        {"clock": ClockReport(source="timesyncd", synchronised=False)},
        ("clock", ""),
        "not synchronised (timesyncd)",
        "amber",
    ),
    "certificate": (
        # X.509 validity is on the system clock, however the service's clock is shifted.
        {"certificate_not_after": system_utcnow() + dt.timedelta(days=12, hours=2)},
        ("certificate", ""),
        "in 12 days",
        "amber",
    ),
    "evidence": (
        {"oldest_unsent_evidence_s": 2 * 3600 + 5},
        ("evidence", ""),
        "unsent for 120 minutes",
        "red",
    ),
}


@pytest.mark.parametrize("rule", RULES)
def test_each_health_rule_raises_its_alert_with_a_reason_and_clears_it(
    fleet_centre: FleetCentre, rule: str
) -> None:
    changes, alert, words, colour = RULES[rule]
    fleet_centre.receive(NURZHOLY, [healthy()])
    assert open_alerts(fleet_centre) == set()
    fleet_centre.receive(NURZHOLY, [healthy(**changes)])
    fleet_centre.receive(NURZHOLY, [healthy(**changes)])  # still holds: raised once
    assert open_alerts(fleet_centre) == {alert}
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    [raised] = detail.alerts
    assert words in raised.reason
    assert fleet_centre.desk.boxes()[0].colour == colour
    assert fleet_centre.desk.boxes()[0].open_alerts == 1
    fleet_centre.receive(NURZHOLY, [healthy()])
    assert open_alerts(fleet_centre) == set()
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert [a.cleared_at is not None for a in detail.alerts] == [True]
    assert fleet_centre.desk.boxes()[0].colour == "green"


def test_one_alert_per_disconnected_device_each_cleared_on_its_own(
    fleet_centre: FleetCentre,
) -> None:
    def devices(*down: str) -> tuple[DeviceHealthReport, ...]:
        return tuple(
            DeviceHealthReport(id=name, kind="camera", lane="1",
                               health="disconnected" if name in down else "connected")
            for name in ("cam-1", "cam-2", "cam-3")
        )  # fmt: skip

    fleet_centre.receive(NURZHOLY, [healthy(devices=devices("cam-1", "cam-3"))])
    assert open_alerts(fleet_centre) == {("device", "cam-1"), ("device", "cam-3")}
    fleet_centre.receive(NURZHOLY, [healthy(devices=devices("cam-3"))])
    assert open_alerts(fleet_centre) == {("device", "cam-3")}


def test_a_failing_service_is_red_without_an_alert(fleet_centre: FleetCentre) -> None:
    fleet_centre.receive(NURZHOLY, [healthy(service="failing")])
    assert fleet_centre.desk.boxes()[0].colour == "red"
    fleet_centre.receive(NURZHOLY, [healthy(service="degraded")])
    assert fleet_centre.desk.boxes()[0].colour == "amber"


def test_a_silent_box_is_grey_and_alerted_until_it_reports_again(
    fleet_centre: FleetCentre,
) -> None:
    fleet_centre.enrol(NURZHOLY, KORGAS)
    fleet_centre.receive(NURZHOLY, [healthy()])
    settings = fleet_centre.settings
    check_silence(fleet_centre.engine, settings, utcnow())
    assert open_alerts(fleet_centre) == set()
    later = utcnow() + dt.timedelta(minutes=settings.silent_minutes + 1)
    changes = check_silence(fleet_centre.engine, settings, later)
    # Korgas never reported: it is silent from its enrolment on.
    assert {(c.node, c.kind, c.raised) for c in changes} == {
        (NURZHOLY, "silent", True), (KORGAS, "silent", True),
    }  # fmt: skip
    assert check_silence(fleet_centre.engine, settings, later) == []  # raised once
    detail = fleet_centre.desk.box(NURZHOLY)
    assert detail is not None
    assert "no report for" in detail.alerts[0].reason
    assert [b.colour for b in fleet_centre.desk.boxes()] == ["grey", "green"]
    fleet_centre.receive(NURZHOLY, [healthy()])  # it speaks again
    assert open_alerts(fleet_centre) == set()
    assert open_alerts(fleet_centre, KORGAS) == {("silent", "")}


def test_history_is_downsampled_into_bounded_buckets(fleet_centre: FleetCentre) -> None:
    start = bucket_of(utcnow() - dt.timedelta(hours=3), 3600)
    # Two hours of reports every 30 s: 240 reports, 24 five-minute and 2 hourly buckets.
    reports = [
        healthy(at=start + dt.timedelta(seconds=30 * i), disk_used_pct=40.0 + (i % 10),
                backlog=())
        for i in range(240)
    ]  # fmt: skip
    for first in range(0, len(reports), 60):
        fleet_centre.receive(NURZHOLY, reports[first : first + 60])
    with fleet_centre.engine.connect() as conn:
        rows = dict(
            conn.execute(
                select(fleet_health_history.c.resolution_s, func.count())
                .group_by(fleet_health_history.c.resolution_s)
            ).all()
        )  # fmt: skip
        samples = conn.execute(select(func.sum(fleet_health_history.c.samples))).scalar_one()
    assert rows == {300: 24, 3600: 2}
    assert samples == 2 * 240
    fine = fleet_centre.desk.history(NURZHOLY, "disk_used_pct", start)
    assert len(fine) == 24
    bucket, mean, low, high = fine[0]
    assert bucket == start
    assert (mean, low, high) == (44.5, 40.0, 49.0)
    coarse = fleet_centre.desk.history(NURZHOLY, "disk_used_pct", start - 3 * DAY)
    assert [b for b, *_ in coarse] == [start, start + dt.timedelta(hours=1)]
    assert all(tuple(values) == (44.5, 40.0, 49.0) for _, *values in coarse)


def test_alerts_name_no_more_than_the_box_and_its_devices(fleet_centre: FleetCentre) -> None:
    fleet_centre.receive(NURZHOLY, [healthy(disk_used_pct=99.0)])
    with fleet_centre.engine.connect() as conn:
        reasons = conn.execute(select(fleet_alerts.c.reason)).scalars().all()
    assert reasons == ["disk 99.0% used, over 90%"]
