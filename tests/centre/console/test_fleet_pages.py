"""The fleet pages over HTTP, on SQLite and PostgreSQL: what each role sees, what each may do, a
twin's reasons, and every refused action audited. (The same pages in Chromium:
test_fleet_browser.py.)"""

from __future__ import annotations

import io
import logging
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from centre.console.operators import OperatorStore
from centre.store import open_centre_database
from edge.cli import main
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import KORGAS, NURZHOLY, TORUGART
from tests.centre.console.conftest import ALTYNKOL, FleetUnderTest, log_in

SECRET_REASON = "Driver Ivanov said the box was stolen"


def test_the_fleet_shows_boxes_by_country_and_crossing_with_their_colours(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    log_in(client, "anton")  # the auditor reads the fleet
    page = client.get("/fleet")
    assert page.status_code == 200
    html = page.text
    assert 'id="country-KG"' in html
    assert 'id="country-KZ"' in html
    assert 'id="post-KZ-NURZHOLY"' in html
    assert 'id="post-KZ-KORGAS"' in html
    assert f'id="box-{NURZHOLY}" data-colour="green"' in html
    assert f'id="box-{KORGAS}" data-colour="red"' in html
    assert f'id="box-{TORUGART}" data-colour="grey"' in html
    # The box asking to join is not among the boxes: it waits, with the code of its key.
    assert f'id="box-{ALTYNKOL}"' not in html
    assert f'id="pending-{ALTYNKOL}"' in html
    assert fleet_console.altynkol_code in html
    # The twin Nurzholy rolled back shows on its row.
    assert "twin-rolled-back" in html
    # An auditor gets no form.
    assert 'id="bulk-form"' not in html
    assert f'id="approve-form-{ALTYNKOL}"' not in html
    assert 'id="nav-quarantine"' not in html


def test_a_box_page_shows_twin_rollback_history_charts_health_and_alerts(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    log_in(client, "anton")
    html = client.get(f"/fleet/box/{NURZHOLY}").text
    assert 'id="twin-desired-version">1<' in html
    assert "Rolled back by the box, because:" in html
    assert "health: camera cam-1 disconnected within the grace period" in html
    # Five reports ten minutes apart: five 5-minute buckets, drawn as a polyline.
    assert 'id="chart-disk_used_pct"' in html
    assert "5 buckets" in html
    assert "<polyline" in html
    assert 'id="health-software">1.4.0<' in html
    assert "&#34;min_score&#34;: 0.5" in html  # the desired section, read only
    assert 'id="twin-form"' not in html
    assert 'id="command-form"' not in html
    korgas = client.get(f"/fleet/box/{KORGAS}").text
    assert 'class="alert-open"' in korgas
    assert "disk 96.5% used, over 90%" in korgas
    assert client.get("/fleet/box/KZ-NOWHERE-9").status_code == 404


def test_an_auditor_and_the_records_roles_are_refused_every_fleet_action_and_it_is_audited(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    outbox_before = fleet_console.outbox_rows()
    posts = [
        (f"/fleet/box/{NURZHOLY}/command", {"action": "reboot", "ttl_minutes": "60"}),
        (f"/fleet/box/{NURZHOLY}/twin", {"section_matching": '{"min_score": 0.9}'}),
        (f"/fleet/box/{NURZHOLY}/revoke", {"reason": "stolen"}),
        ("/fleet/bulk", {"op": "command", "node": NURZHOLY, "action": "restart",
                         "ttl_minutes": "5"}),
        (f"/fleet/enrolment/{ALTYNKOL}/approve", {}),
        (f"/fleet/enrolment/{ALTYNKOL}/refuse", {"reason": "unknown box"}),
    ]  # fmt: skip
    for login in ("anton", "olga", "viktor"):
        csrf = log_in(client, login)
        for path, data in posts:
            # A forged form: with this session's CSRF token, as a script of the page would.
            response = client.post(path, data={"csrf_token": csrf, **data})
            assert response.status_code == 403, (login, path)
            assert 'data-code="not_allowed"' in response.text
    assert fleet_console.commands() == []
    assert fleet_console.outbox_rows() == outbox_before
    assert fleet_console.enrolments.state_of(ALTYNKOL) == "pending"
    refused = [row for row in fleet_console.audit_rows() if row[1] == "refused"]
    assert len(refused) == 3 * len(posts)
    assert refused[0] == (
        "anton",
        "refused",
        f"POST /fleet/box/{NURZHOLY}/command",
        "",
        "refused: role auditor",
    )
    assert {row[4] for row in refused} == {
        "refused: role auditor", "refused: role operator", "refused: role viewer"
    }  # fmt: skip
    # Without the session's token, a fleet operator's POST is refused too (and not done).
    log_in(client, "farida")
    forged = client.post(
        f"/fleet/box/{NURZHOLY}/command", data={"action": "reboot", "ttl_minutes": "60"}
    )
    assert forged.status_code == 403
    assert 'data-code="csrf"' in forged.text
    assert fleet_console.commands() == []


def test_the_records_pages_are_closed_to_the_fleet_roles(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    for login in ("anton", "farida"):
        log_in(client, login)
        for path in ("/quarantine", "/review", "/trace"):
            assert client.get(path).status_code == 403, (login, path)
        assert client.get("/audit").status_code == 200
        assert client.get("/fleet").status_code == 200
    log_in(client, "viktor")
    assert client.get("/quarantine").status_code == 200
    assert client.get("/fleet").status_code == 200


def test_a_twin_is_checked_with_the_box_models_reasons_shown_then_a_good_one_bumps_the_version(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    csrf = log_in(client, "farida")
    path = f"/fleet/box/{NURZHOLY}/twin"
    not_json = client.post(path, data={"csrf_token": csrf, "section_lanes": '{"default_lane": '})
    assert not_json.status_code == 422
    assert "lanes: not JSON" in not_json.text
    # What was typed is kept for mending.
    assert "{&#34;default_lane&#34;: </textarea>" in not_json.text
    bad = client.post(
        path, data={"csrf_token": csrf, "section_matching": '{"min_score": 2, "min_scroe": 1}'}
    )
    assert bad.status_code == 422
    assert "matching.min_score: " in bad.text
    assert "matching.min_scroe: unknown key" in bad.text
    assert fleet_console.sent_types(NURZHOLY) == ["twin_desired"]  # the seed's, nothing new
    good = client.post(
        path,
        data={"csrf_token": csrf, "section_matching": '{"min_score": 0.7}', "grace_s": "120"},
        follow_redirects=False,
    )
    assert good.status_code == 303
    page = client.get(good.headers["location"]).text
    assert 'id="twin-desired-version">2<' in page
    assert fleet_console.sent_types(NURZHOLY) == ["twin_desired", "twin_desired"]
    [latest] = [e.payload for e in fleet_console.centre.sent(NURZHOLY)][-1:]
    assert latest.model_dump()["sections"] == {"matching": {"min_score": 0.7}}
    assert latest.model_dump()["grace_s"] == 120
    audited = [(r[0], r[1], r[2], r[4]) for r in fleet_console.audit_rows() if r[0] == "farida"]
    assert audited[0][:3] == ("farida", "fleet.twin", f"box:{NURZHOLY}")
    assert audited[0][3].startswith("invalid: lanes: lanes: not JSON")
    assert audited[1][3].startswith("invalid: matching: matching.min_score")
    assert audited[2] == ("farida", "fleet.twin", f"box:{NURZHOLY}", "version 2: matching")


def test_a_command_to_a_box_not_enrolled_is_refused_with_its_reason_and_audited(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    csrf = log_in(client, "farida")
    response = client.post(
        "/fleet/bulk",
        data={"csrf_token": csrf, "op": "command", "node": [NURZHOLY, ALTYNKOL],
              "action": "self_test", "ttl_minutes": "30"},
    )  # fmt: skip
    assert response.status_code == 422
    assert f"{ALTYNKOL}: pending, not enrolled" in response.text
    assert fleet_console.commands() == []
    nothing = client.post("/fleet/bulk", data={"csrf_token": csrf, "op": "command"})
    assert "selection: no box selected" in nothing.text
    audited = [r for r in fleet_console.audit_rows() if r[1] == "fleet.command"]
    assert [r[2] for r in audited] == [f"box:{NURZHOLY}", f"box:{ALTYNKOL}"]
    assert all(r[4].startswith("refused: self_test: ") for r in audited)


def test_revoking_needs_a_reason_kept_in_the_audit_and_not_in_a_log_line(
    fleet_console: FleetUnderTest, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = log_in(client, "farida")
    path = f"/fleet/box/{TORUGART}/revoke"
    blank = client.post(path, data={"csrf_token": csrf, "reason": "  "})
    assert blank.status_code == 422
    with caplog.at_level(logging.DEBUG):
        # Torugart was enrolled by hand in the seed: no certificate, so nothing to revoke.
        refused = client.post(path, data={"csrf_token": csrf, "reason": SECRET_REASON})
    assert refused.status_code == 409
    assert "only an enrolled box is revoked" in refused.text
    assert fleet_console.audit_rows()[-1][:4] == (
        "farida",
        "fleet.revoke",
        f"box:{TORUGART}",
        SECRET_REASON,
    )
    assert not [r for r in caplog.records if "Ivanov" in str(r.__dict__)]


def test_the_new_roles_are_added_from_the_command_line(
    fleet: Fleet, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "centre.toml"
    path.write_text(
        f'[centre]\nid = "KZ-CIS"\ndatabase = "sqlite:///{tmp_path / "c.sqlite3"}"\n'
        f'[identity]\nidentity_dir = "{fleet.nodes["KZ-CIS"]}"\n'
        f'trust_store = "{fleet.trust_store}"\n',
        encoding="utf-8",
    )
    for login, role in (("dana", "fleet"), ("erlan", "auditor")):
        monkeypatch.setattr("sys.stdin", io.StringIO("a-long-enough-password\n"))
        assert main(["centre", "operator", login, "--role", role, "--password-stdin",
                     "--config", str(path)]) == 0  # fmt: skip
    engine = open_centre_database(f"sqlite:///{tmp_path / 'c.sqlite3'}")
    store = OperatorStore(engine)
    assert [store.get(login).role.value for login in ("dana", "erlan")] == ["fleet", "auditor"]  # type: ignore[union-attr]


def test_the_fleet_pages_speak_russian(fleet_console: FleetUnderTest, client: TestClient) -> None:
    csrf = log_in(client, "anton")
    client.post("/language", data={"csrf_token": csrf, "language": "ru", "next": "/fleet"})
    html = client.get("/fleet").text
    assert '<html lang="ru">' in html
    assert "Парк узлов" in html
    assert "исправен" in html
    assert "молчит" in html
    assert "Ожидают регистрации" in html
    box = client.get(f"/fleet/box/{NURZHOLY}").text
    assert "Узел откатил конфигурацию, потому что:" in box
    assert "Занято на диске (%)" in box


def test_a_fleet_operator_refuses_an_enrolment_then_revokes_an_approved_box(
    fleet_console: FleetUnderTest, client: TestClient, caplog: pytest.LogCaptureFixture
) -> None:
    csrf = log_in(client, "farida")
    approved = client.post(
        f"/fleet/enrolment/{ALTYNKOL}/approve", data={"csrf_token": csrf}, follow_redirects=False
    )
    assert approved.status_code == 303
    assert fleet_console.enrolments.state_of(ALTYNKOL) == "enrolled"
    again = client.post(f"/fleet/enrolment/{ALTYNKOL}/refuse",
                        data={"csrf_token": csrf, "reason": "changed my mind"})  # fmt: skip
    assert again.status_code == 409
    assert "only a pending or registered box is refused" in again.text
    page = client.get(f"/fleet/box/{ALTYNKOL}").text
    assert 'id="revoke-form"' in page
    with caplog.at_level(logging.DEBUG):
        revoked = client.post(
            f"/fleet/box/{ALTYNKOL}/revoke",
            data={"csrf_token": csrf, "reason": SECRET_REASON},
            follow_redirects=False,
        )
    assert revoked.status_code == 303
    assert fleet_console.enrolments.state_of(ALTYNKOL) == "revoked"
    # Every enrolled box is told, signed by the centre.
    for node in (NURZHOLY, KORGAS, TORUGART):
        assert "revocation" in fleet_console.sent_types(node)
    page = client.get(revoked.headers["location"]).text
    assert "Box revoked" in page
    assert 'id="revoke-form"' not in page
    rows = [r for r in fleet_console.audit_rows() if r[2] == f"box:{ALTYNKOL}"]
    assert [(r[0], r[1]) for r in rows] == [
        ("farida", "fleet.approve"), ("farida", "fleet.refuse"), ("farida", "fleet.revoke")
    ]  # fmt: skip
    assert rows[1][4].startswith("refused: ")
    assert rows[2][3] == SECRET_REASON
    assert not [r for r in caplog.records if "Ivanov" in str(r.__dict__)]
