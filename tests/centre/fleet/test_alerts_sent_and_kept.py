"""Alerts sent on as configured (a log line each; signed POSTs to the alert webhooks), the
[fleet] section of the centre's file, and the fleet tables' retention in the purge job."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterator
from pathlib import Path

import orjson
import pytest
from sqlalchemy import func, insert, select

from centre.config import AlertWebhookSection, load_centre_config
from centre.fleet.alerts import AlertNotifier
from centre.fleet.history import bucket_of
from centre.service import CentreService
from centre.store.schema import fleet_alerts, fleet_boxes, fleet_commands, fleet_health_history
from centre.webhooks import verify_signature
from edge.config import ConfigError
from edge.logs import record_fields
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import CENTRE
from tests.centre.fleet.conftest import NURZHOLY, FleetCentre, healthy
from tests.centre.test_webhooks import Cis

SECRET = b"kz-fleet-alerts-key-0123456789"


@pytest.fixture
def pager() -> Iterator[Cis]:
    server = Cis()
    server.start()
    yield server
    server.stop()


def notifier(fleet_centre: FleetCentre, pager: Cis, tmp_path: Path) -> AlertNotifier:
    key = tmp_path / "pager.key"
    key.write_bytes(SECRET + b"\n")
    target = AlertWebhookSection(name="pager", url=pager.url, secret_file=key)
    return AlertNotifier(fleet_centre.engine, [target])


def test_an_alert_raised_and_cleared_is_logged_and_sent_signed_once_each(
    fleet_centre: FleetCentre, pager: Cis, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="centre.fleet.alerts")
    sender = notifier(fleet_centre, pager, tmp_path)
    fleet_centre.receive(NURZHOLY, [healthy(disk_used_pct=95.0)])
    assert sender.send_pending(utcnow()) == 1
    assert sender.send_pending(utcnow()) == 0  # sent once
    fleet_centre.receive(NURZHOLY, [healthy()])
    assert sender.send_pending(utcnow()) == 1
    sender.close()
    for request in pager.requests:
        assert verify_signature(SECRET, request.body, request.headers["X-Carec-Signature"])
    raised, cleared = (orjson.loads(r.body)["alerts"] for r in pager.requests)
    assert [(a["node"], a["kind"], a["reason"], a["cleared_at"]) for a in raised] == [
        (NURZHOLY, "disk", "disk 95.0% used, over 90%", None)
    ]
    assert cleared[0]["id"] == raised[0]["id"]
    assert cleared[0]["cleared_at"] is not None
    logged = [
        (r.getMessage(), record_fields(r)) for r in caplog.records
        if r.getMessage().startswith("fleet.alert_")
    ]  # fmt: skip
    assert logged == [
        ("fleet.alert_raised", {"node": NURZHOLY, "kind": "disk", "subject": "",
                                "reason": "disk 95.0% used, over 90%"}),
        ("fleet.alert_cleared", {"node": NURZHOLY, "kind": "disk", "subject": "",
                                 "reason": "disk 95.0% used, over 90%"}),
    ]  # fmt: skip


def test_an_alert_webhook_that_fails_gets_the_alert_again_next_round(
    fleet_centre: FleetCentre, pager: Cis, tmp_path: Path
) -> None:
    sender = notifier(fleet_centre, pager, tmp_path)
    fleet_centre.receive(NURZHOLY, [healthy(oldest_unsent_evidence_s=7200)])
    pager.status = 503
    assert sender.send_pending(utcnow()) == 0
    pager.status = 200
    assert sender.send_pending(utcnow()) == 1
    sender.close()
    bodies = [orjson.loads(r.body)["alerts"][0]["kind"] for r in pager.requests]
    assert bodies == ["evidence", "evidence"]


def config_text(fleet: Fleet, database_url: str, fleet_section: str) -> str:
    return (
        f'[centre]\nid = "KZ-CIS"\ndatabase = "{database_url}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes[CENTRE]}"\n'
        f'trust_store = "{fleet.trust_store}"\n{fleet_section}'
    )


def test_the_purge_job_keeps_history_alerts_and_commands_as_long_as_fleet_says(
    fleet: Fleet, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.toml"
    path.write_text(config_text(fleet, database_url, (
        "[fleet]\nhistory_300s_days = 1\nhistory_3600s_days = 30\nalerts_days = 10\n"
        "commands_days = 20\n"
    )))  # fmt: skip
    service = CentreService.build(load_centre_config(path))
    now = utcnow()

    def ago(days: float) -> dt.datetime:
        return now - dt.timedelta(days=days)

    with service.engine.begin() as conn:
        conn.execute(insert(fleet_health_history), [
            {"node_id": NURZHOLY, "resolution_s": resolution, "bucket": bucket_of(ago(days),
             resolution), "samples": 1, "metrics": "{}"}
            for resolution, days in ((300, 0.5), (300, 1.5), (3600, 1.5), (3600, 29),
                                     (3600, 31))
        ])  # fmt: skip
        conn.execute(insert(fleet_alerts), [
            {"node_id": NURZHOLY, "kind": kind, "subject": "", "reason": "r",
             "raised_at": ago(400), "cleared_at": cleared}
            for kind, cleared in (("open", None), ("recent", ago(9)), ("old", ago(11)))
        ])  # fmt: skip
        conn.execute(insert(fleet_commands), [
            {"command_id": command_id, "node_id": NURZHOLY, "action": "restart",
             "issued_by": "op", "issued_at": ago(100), "expires_at": expires, "state": state,
             "finished_at": finished}
            for command_id, expires, state, finished in (
                ("done-recently", ago(99), "done", ago(19)),
                ("done-long-ago", ago(99), "done", ago(21)),
                ("never-answered", ago(99), "sent", None),
                ("waiting", now + dt.timedelta(hours=1), "sent", None),
            )
        ])  # fmt: skip
    service.run_jobs()
    with service.engine.connect() as conn:
        history = conn.execute(
            select(fleet_health_history.c.resolution_s, func.count())
            .group_by(fleet_health_history.c.resolution_s)
            .order_by(fleet_health_history.c.resolution_s)
        ).all()  # fmt: skip
        alerts = conn.execute(select(fleet_alerts.c.kind).order_by(fleet_alerts.c.id))
        commands = conn.execute(
            select(fleet_commands.c.command_id).order_by(fleet_commands.c.command_id)
        )
        assert [tuple(row) for row in history] == [(300, 1), (3600, 2)]
        assert alerts.scalars().all() == ["open", "recent"]
        assert commands.scalars().all() == ["done-recently", "waiting"]
    service.engine.dispose()


def test_the_fleet_section_is_checked_naming_the_key(fleet: Fleet, tmp_path: Path) -> None:
    path = tmp_path / "centre.toml"
    url = f"sqlite:///{tmp_path / 'c.sqlite3'}"
    path.write_text(config_text(fleet, url, (
        "[fleet]\nsilent_minutes = 0\n[[fleet.alert_webhooks]]\nname = \"pager\"\n"
        "url = \"ftp://ops.example/alerts\"\nsecret_file = \"/etc/carec-edge/pager.key\"\n"
    )))  # fmt: skip
    with pytest.raises(ConfigError) as refused:
        load_centre_config(path)
    keys = [p.split(":")[0] for p in refused.value.problems]
    assert keys == ["fleet.silent_minutes", "fleet.alert_webhooks[0].url"]


def test_the_service_checks_for_silent_boxes_with_its_fleet_settings(
    fleet: Fleet, database_url: str, tmp_path: Path
) -> None:
    path = tmp_path / "centre.toml"
    path.write_text(config_text(fleet, database_url, "[fleet]\nsilent_minutes = 2\n"))
    service = CentreService.build(load_centre_config(path))
    enrolled = utcnow() - dt.timedelta(minutes=3)
    with service.engine.begin() as conn:
        conn.execute(insert(fleet_boxes), [
            {"node_id": node, "serial": f"SN-{node}", "state": "enrolled", "created_at": when,
             "decided_at": when}
            for node, when in ((NURZHOLY, enrolled), ("KZ-KORGAS-1", utcnow()))
        ])  # fmt: skip
    service.fleet_checks()
    assert service.fleet is not None
    colours = {b.node_id: (b.colour, b.open_alerts) for b in service.fleet.boxes()}
    assert colours == {NURZHOLY: ("grey", 1), "KZ-KORGAS-1": ("grey", 0)}
    service.engine.dispose()
