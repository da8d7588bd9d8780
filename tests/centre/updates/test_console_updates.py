"""The console's update pages over HTTP, on SQLite and PostgreSQL: the fleet operator starts a
rollout (a published bundle, or a typed one when the console has no repository), follows its
phases and boxes, pauses, resumes and aborts it; the auditor reads and may not act; a form
without the session's CSRF token changes nothing; refusals come back with their reasons."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from centre.audit import audit_entries
from centre.updates.rollout import parse_phases
from centre.updates.rollout_store import RolloutStore
from edge.timeutil import utcnow
from sync.messages import UpdateReport
from tests.centre.conftest import KORGAS, NURZHOLY, TORUGART, Centre
from tests.centre.console.conftest import FleetUnderTest, health, log_in, make_fleet_console

TARGET = "carec-edge-1.5.0.raucb"


@dataclass(frozen=True)
class Published:
    name: str
    version: str


@pytest.fixture
def fleet_console(centre: Centre, tmp_path: Path) -> FleetUnderTest:
    return make_fleet_console(centre, tmp_path)


@pytest.fixture
def client(fleet_console: FleetUnderTest) -> Iterator[TestClient]:
    with TestClient(fleet_console.app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def store(fleet: FleetUnderTest) -> RolloutStore:
    return RolloutStore(fleet.centre.engine, fleet.desk)


def start_form(csrf: str, **changes: str) -> dict[str, str]:
    return {
        "csrf_token": csrf, "target": TARGET, "version": "1.5.0",
        "boxes": f"{NURZHOLY}\n{KORGAS}\n{TORUGART}", "phases": "1, 100%", "threshold_pct": "0",
    } | changes  # fmt: skip


def test_the_fleet_operator_starts_a_rollout_and_sees_its_phases_and_boxes(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    csrf = log_in(client, "farida")
    assert 'id="to-updates"' in client.get("/fleet").text
    assert 'id="start-form"' in client.get("/fleet/updates").text
    started = client.post("/fleet/updates/start", data=start_form(csrf), follow_redirects=False)
    assert started.status_code == 303, started.text
    page = client.get(started.headers["location"]).text
    assert 'id="rollout-state" data-state="running"' in page
    assert f'id="box-{NURZHOLY}" data-state="commanded"' in page
    assert f'id="box-{KORGAS}" data-state="queued"' in page
    assert '<span class="box-count" data-state="queued">queued: 2</span>' in page
    assert [n for n, action, *_ in fleet_console.commands() if action == "update"] == [NURZHOLY]
    listing = client.get("/fleet/updates").text
    assert TARGET in listing
    assert 'data-state="running"' in listing


def test_pause_resume_and_abort_from_the_page_and_a_move_not_allowed_is_refused(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    csrf = log_in(client, "farida")
    rollout_id = _started(fleet_console)
    base = f"/fleet/updates/{rollout_id}"
    assert client.post(f"{base}/pause", data={"csrf_token": csrf}).status_code == 200
    refused = client.post(f"{base}/pause", data={"csrf_token": csrf})
    assert refused.status_code == 409
    assert "a paused rollout cannot pause (only a running one)" in refused.text
    assert client.post(f"{base}/resume", data={"csrf_token": csrf}).status_code == 200
    aborted = client.post(f"{base}/abort", data={"csrf_token": csrf, "reason": "wrong bundle"})
    assert 'id="rollout-state" data-state="aborted"' in aborted.text
    assert 'id="rollout-reason">wrong bundle<' in aborted.text
    outcomes = [e.outcome for e in audit_entries(fleet_console.centre.engine)]
    assert "abort: running -> aborted" in outcomes
    assert "refused: pause: a paused rollout cannot pause (only a running one)" in outcomes


def _started(fleet: FleetUnderTest) -> str:
    return store(fleet).start(
        TARGET, "1.5.0", [NURZHOLY, KORGAS], parse_phases("1, 100%"), operator="farida"
    )


def test_the_auditor_reads_but_may_not_act(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    rollout_id = _started(fleet_console)
    csrf = log_in(client, "anton")
    listing = client.get("/fleet/updates").text
    assert f'id="rollout-{rollout_id}"' in listing
    assert 'id="start-form"' not in listing
    page = client.get(f"/fleet/updates/{rollout_id}").text
    assert 'id="operations"' not in page
    assert client.post("/fleet/updates/start", data=start_form(csrf)).status_code == 403
    assert client.post(f"/fleet/updates/{rollout_id}/abort",
                       data={"csrf_token": csrf}).status_code == 403  # fmt: skip
    assert [r.state for r in store(fleet_console).rollouts()] == ["running"]


def test_a_form_without_the_session_s_csrf_token_changes_nothing(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    log_in(client, "farida")
    assert client.post("/fleet/updates/start", data=start_form("forged")).status_code == 403
    assert store(fleet_console).rollouts() == []


def test_bad_forms_come_back_with_every_reason_and_the_typed_values(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    csrf = log_in(client, "farida")
    form = start_form(csrf, target="../x", boxes=f"{NURZHOLY}\nnot a box!", phases="1, 50%",
                      threshold_pct="120")  # fmt: skip
    refused = client.post("/fleet/updates/start", data=form)
    assert refused.status_code == 422
    for reason in ("boxes: &#39;box!&#39; is not a node id", "threshold_pct: &#39;120&#39;",
                   "phases: the last one is 100%"):  # fmt: skip
        assert reason in refused.text
    assert 'value="1, 50%"' in refused.text
    refused = client.post("/fleet/updates/start", data=start_form(csrf, target="../x"))
    assert "target: &#39;../x&#39;" in refused.text
    assert store(fleet_console).rollouts() == []
    audited = [e.outcome for e in audit_entries(fleet_console.centre.engine)]
    assert any(o.startswith("refused: target") for o in audited)


def test_with_the_repository_the_operator_picks_a_published_bundle_and_its_version_follows(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    fleet_console.app.state.update_targets = lambda: [Published(TARGET, "1.5.0"),
                                                      Published("carec-edge-1.4.0.raucb", "1.4.0")]  # fmt: skip
    csrf = log_in(client, "farida")
    listing = client.get("/fleet/updates").text
    assert f'<option value="{TARGET}">{TARGET} (1.5.0)</option>' in listing
    assert 'id="version"' not in listing
    unknown = client.post("/fleet/updates/start",
                          data=start_form(csrf, target="carec-edge-9.raucb"))  # fmt: skip
    assert unknown.status_code == 422
    assert "is not a bundle of the update repository" in unknown.text
    form = start_form(csrf, target="carec-edge-1.4.0.raucb", version="")
    form.pop("boxes")
    form["all_boxes"] = "on"
    assert client.post("/fleet/updates/start", data=form).status_code == 200
    [rollout] = store(fleet_console).rollouts()
    assert (rollout.target, rollout.version) == ("carec-edge-1.4.0.raucb", "1.4.0")
    detail = store(fleet_console).detail(rollout.rollout_id)
    assert detail is not None
    assert sorted(b.node_id for b in detail.boxes) == sorted([NURZHOLY, KORGAS, TORUGART])


def test_a_box_page_shows_its_update_state_and_links_its_rollout(
    fleet_console: FleetUnderTest, client: TestClient
) -> None:
    rollout_id = _started(fleet_console)
    update = UpdateReport(phase="rolled_back", target=TARGET, version="1.5.0", booted_slot="A",
                          reason="self-test failed: store does not open", rollout=rollout_id)  # fmt: skip
    fleet_console.report(NURZHOLY, [health(NURZHOLY, utcnow(), update=update)])
    log_in(client, "anton")
    page = client.get(f"/fleet/box/{NURZHOLY}").text
    assert (
        '<dd id="health-update"><code>rolled_back</code> carec-edge-1.5.0.raucb (1.5.0), slot A: '
        "self-test failed: store does not open "
        f'<a href="/fleet/updates/{rollout_id}" id="health-update-rollout">rollout</a></dd>'
    ) in page
    assert '<dd id="health-update">—</dd>' in client.get(f"/fleet/box/{KORGAS}").text
