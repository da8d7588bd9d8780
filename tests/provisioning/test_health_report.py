"""The box's health report from plain figures, and the clock read from chrony's or systemd's
own words: whatever they say, a report comes out (never a crash)."""

from __future__ import annotations

import datetime as dt

import pytest

from provisioning.fleet.health_report import (
    UNKNOWN_CLOCK,
    BacklogFigure,
    DeviceFigure,
    HealthFigures,
    build_health,
    clock_report,
    parse_chronyc_tracking,
    parse_timedatectl_show,
)
from sync.messages import ClockReport, HealthMessage, parse_payload, payload_json

AT = dt.datetime(2026, 12, 7, 9, 30, tzinfo=dt.UTC)
GB = 1024**3

CHRONYC = """Reference ID    : C0A80101 (192.168.1.1)
Stratum         : 3
Ref time (UTC)  : Mon Dec 07 09:29:58 2026
System time     : 0.002345678 seconds slow of NTP time
Last offset     : -0.000123456 seconds
RMS offset      : 0.000456789 seconds
Frequency       : 12.345 ppm fast
Leap status     : Normal
"""


def figures(**changes: object) -> HealthFigures:
    values: dict[str, object] = {
        "node": "KZ-NURZHOLY-1",
        "at": AT,
        "devices": [
            DeviceFigure("scanner-1", "barcode", "1", "connected", "ok"),
            DeviceFigure("mrz-1", "mrz", "1", "disconnected", "no such port"),
        ],
        "plate_worker": "connected",
        "disk_total_bytes": 100 * GB,
        "disk_free_bytes": 8 * GB,
        "database_bytes": 3 * 1024 * 1024,
        "backlog": [
            BacklogFigure("cis", "evidence", 4, 5400.7),
            BacklogFigure("cis", "telemetry", 0, None),
            BacklogFigure("partner", "evidence", 1, 60.0),
        ],
        "clock": ClockReport(source="chrony", synchronised=True, offset_ms=-2.3),
        "certificate_not_after": AT + dt.timedelta(days=20),
        "software_version": "0.1.0",
        "last_decision_at": AT - dt.timedelta(minutes=3),
        "twin_version": 7,
    }
    return HealthFigures(**(values | changes))  # type: ignore[arg-type]


def test_a_box_with_a_disconnected_device_reports_itself_degraded_with_its_figures() -> None:
    report = build_health(figures())

    assert report.service == "degraded"
    assert [(d.id, d.health, d.why) for d in report.devices] == [
        ("scanner-1", "connected", "ok"), ("mrz-1", "disconnected", "no such port"),
    ]  # fmt: skip
    assert report.plate_worker == "ok"
    assert (report.disk_used_pct, report.disk_free_mb, report.database_mb) == (92.0, 8192, 3.0)
    assert [(b.peer, b.priority.value, b.waiting) for b in report.backlog] == [
        ("cis", "evidence", 4), ("partner", "evidence", 1),
    ]  # fmt: skip
    assert report.oldest_unsent_evidence_s == 5400
    assert report.twin_version == 7
    # ... and it is a valid message on the wire.
    again = parse_payload("health", payload_json(report))
    assert isinstance(again, HealthMessage)
    assert again == report


@pytest.mark.parametrize(
    ("changes", "service", "worker"),
    [
        ({"devices": []}, "ok", "ok"),
        ({"devices": [], "store_answers": False}, "failing", "ok"),
        ({"devices": [], "disk_low": True}, "degraded", "ok"),
        ({"devices": [], "plate_worker": None}, "ok", "off"),
        ({"devices": [], "plate_worker": "disconnected"}, "degraded", "down"),
        ({"devices": [], "plate_worker": "degraded"}, "ok", "busy"),
    ],
)
def test_the_service_state_follows_the_store_the_disk_and_the_plate_worker(
    changes: dict[str, object], service: str, worker: str
) -> None:
    report = build_health(figures(**changes))
    assert (report.service, report.plate_worker) == (service, worker)


def test_figures_the_wire_cannot_take_are_left_out_not_fatal() -> None:
    odd = [
        DeviceFigure("bad id with spaces", "barcode", "1", "connected"),
        DeviceFigure("cam-1", "camera", "lane one!", "exploded", "x" * 1000),
    ] + [DeviceFigure(f"d{i}", "barcode", "1", "connected") for i in range(100)]
    report = build_health(
        figures(
            devices=odd, disk_total_bytes=0, disk_free_bytes=-5, software_version="",
            backlog=[BacklogFigure("Bad Peer", "evidence", 3), BacklogFigure("cis", "bogus", 3)],
        )
    )  # fmt: skip

    assert report.devices[0].id == "cam-1"
    assert (report.devices[0].lane, report.devices[0].health) == ("unknown", "disconnected")
    assert report.devices[0].why is not None
    assert len(report.devices[0].why) == 300
    assert len(report.devices) == 63  # 64 at most, the bad id left out
    assert report.backlog == ()
    assert report.software_version == "unknown"
    assert (report.disk_free_mb, report.disk_used_pct) == (0, 100.0)


def test_chrony_says_how_far_off_the_clock_is() -> None:
    assert parse_chronyc_tracking(CHRONYC) == ClockReport(
        source="chrony", synchronised=True, offset_ms=-2.346
    )
    fast = CHRONYC.replace("slow", "fast").replace("Normal", "Not synchronised")
    assert parse_chronyc_tracking(fast) == ClockReport(
        source="chrony", synchronised=False, offset_ms=2.346
    )


def test_systemd_says_whether_the_clock_is_synchronised() -> None:
    text = "Timezone=UTC\nLocalRTC=no\nCanNTP=yes\nNTP=yes\nNTPSynchronized=yes\n"
    assert parse_timedatectl_show(text) == ClockReport(source="timesyncd", synchronised=True)
    off = text.replace("NTP=yes", "NTP=no").replace("NTPSynchronized=yes", "NTPSynchronized=no")
    assert parse_timedatectl_show(off) == ClockReport(source="none", synchronised=False)


@pytest.mark.parametrize(
    ("chronyc", "timedatectl"),
    [
        (None, None),
        ("", ""),
        ("506 Cannot talk to daemon\n", "Failed to connect to bus: No such file or directory\n"),
        ("System time : lots seconds fast of NTP time\n", "=\n==\nNTP"),
        ("\x00\xff" * 50, "NTPSynchronized"),
    ],
)
def test_a_clock_that_cannot_be_read_is_unknown(
    chronyc: str | None, timedatectl: str | None
) -> None:
    assert clock_report(chronyc, timedatectl) == UNKNOWN_CLOCK


def test_chrony_is_asked_first_then_systemd() -> None:
    assert clock_report(CHRONYC, "NTPSynchronized=no\n").source == "chrony"
    assert clock_report("506 Cannot talk to daemon", "NTPSynchronized=yes\n").source == "timesyncd"
