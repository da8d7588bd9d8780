"""The centre's risk profiles at the kiosk: the lane and its reasons name the profile and its
version, or the random selection; after a check the officer records what it found, stored
with the selection that sent the truck there, the note never in a log line."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from sqlalchemy import Connection, select

from edge.decisions import Decision, DecisionKind
from edge.risk_profiles.inspection import InspectionResult
from edge.risk_profiles.model import RuleSet
from edge.risk_profiles.store import store_part
from edge.store.schema import inspection_results
from edge.timeutil import utcnow
from tests.kiosk.conftest import Kiosk

PARTS_PROFILE: dict[str, Any] = {
    "name": "auto-parts-kg", "version": 4, "valid_from": "2026-01-01T00:00:00Z",
    "lane": "yellow", "reason": "UNDERVALUATION",
    "criteria": {"hs_prefixes": ["8708"], "destination_countries": ["KG"]},
}  # fmt: skip
NOTE = "twelve boxes more than declared, see photo 3"


def activate(kiosk: Kiosk, *profiles: dict[str, Any], version: int = 1, **extra: Any) -> None:
    rules = RuleSet.model_validate(
        {"country": "KZ", "version": version, "issued_at": "2026-12-01T00:00:00Z",
         "issued_by": "analyst", "profiles": list(profiles), **extra}
    )  # fmt: skip
    with kiosk.backend.engine.begin() as conn:
        store_part(
            conn, header=rules.model_dump(mode="json", exclude={"profiles"}), part=1, parts=1,
            profiles=[p.model_dump(mode="json") for p in rules.profiles], origin="KZ-CIS",
            now=utcnow(),
        )  # fmt: skip


def test_the_truck_page_names_the_profile_and_its_version(kiosk: Kiosk) -> None:
    activate(kiosk, PARTS_PROFILE)
    arrival_id = kiosk.arrive()
    kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-lane="yellow"' in page
    assert 'data-profile="auto-parts-kg" data-version="4"' in page
    assert "Risk profile auto-parts-kg (version 4): UNDERVALUATION" in page
    assert 'data-testid="risk-random"' not in page
    [entry] = kiosk.client.get("/api/queue").json()
    assert entry["risk"]["profiles"] == [
        {"name": "auto-parts-kg", "version": 4, "lane": "yellow", "reason": "UNDERVALUATION"}
    ]


def test_a_profile_that_does_not_fit_leaves_the_truck_green(kiosk: Kiosk) -> None:
    activate(kiosk, PARTS_PROFILE | {"criteria": {"hs_prefixes": ["8708"], "destination_countries": ["UZ"]}})  # fmt: skip
    arrival_id = kiosk.arrive()
    kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-lane="green"' in page
    assert 'data-testid="risk-profile"' not in page


def test_the_lane_a_profile_gives_binds_the_decision(kiosk: Kiosk) -> None:
    activate(kiosk, PARTS_PROFILE | {"lane": "red"})
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    refused = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide",
        data={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "csrf_token": csrf},
    )
    assert refused.status_code == 403
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


def test_a_random_selection_is_shown_as_random_in_russian_too(kiosk: Kiosk) -> None:
    activate(kiosk, random={"yellow": 1.0})
    arrival_id = kiosk.arrive()
    kiosk.login("olga")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-lane="yellow"' in page
    assert 'data-testid="risk-random"' in page
    assert "Выбран случайно для проверки" in page


def check(kiosk: Kiosk, csrf: str, arrival_id: int) -> None:
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide",
        data={"kind": "documentary_check", "reason": "LANE_REQUIRES_CHECK", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text


def test_an_officer_records_what_the_check_found_and_the_note_is_never_logged(
    kiosk: Kiosk, caplog: pytest.LogCaptureFixture
) -> None:
    sent: list[tuple[InspectionResult, Decision]] = []

    def hook(conn: Connection, result: InspectionResult, decision: Decision) -> None:
        sent.append((result, decision))

    kiosk.backend.inspection_hooks.append(hook)
    activate(kiosk, PARTS_PROFILE)
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    kiosk.client.get(f"/arrivals/{arrival_id}")  # the officer sees the lane
    check(kiosk, csrf, arrival_id)
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-testid="inspection-form"' in page
    caplog.set_level(logging.DEBUG)
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/inspection",
        data={"findings": ["QUANTITY", "SEAL"], "note": NOTE, "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert response.headers["location"] == f"/arrivals/{arrival_id}?done=inspected"
    with kiosk.backend.engine.connect() as conn:
        [row] = conn.execute(select(inspection_results)).all()
    assert (row.outcome, row.findings, row.note) == ("found", '["QUANTITY", "SEAL"]', NOTE)
    assert row.profiles == '[{"name": "auto-parts-kg", "version": 4}]'
    assert (row.lane, row.set_version, row.random) == ("yellow", 1, None)
    [(result, decision)] = sent
    assert decision.kind is DecisionKind.DOCUMENTARY_CHECK
    assert result.selection.profiles == (("auto-parts-kg", 4),)
    assert NOTE not in caplog.text
    assert "kiosk.inspection_recorded" in caplog.text
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-testid="inspection-history"' in page
    assert "Quantity not as declared" in page


def test_nothing_found_is_recorded_as_such(kiosk: Kiosk) -> None:
    activate(kiosk, random={"red": 1.0})
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    kiosk.client.get(f"/arrivals/{arrival_id}")
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide",
        data={"kind": "physical_inspection", "reason": "RANDOM_SELECTION", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    kiosk.client.post(f"/arrivals/{arrival_id}/inspection", data={"csrf_token": csrf})
    with kiosk.backend.engine.connect() as conn:
        [row] = conn.execute(select(inspection_results)).all()
    assert (row.outcome, row.findings, row.random, row.lane) == (
        "nothing_found",
        "[]",
        "red",
        "red",
    )


def test_a_result_without_a_check_or_without_csrf_is_refused(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    early = kiosk.client.post(
        f"/arrivals/{arrival_id}/inspection", data={"findings": ["OTHER"], "csrf_token": csrf}
    )
    assert early.status_code == 422
    assert 'data-code="invalid"' in early.text
    check(kiosk, csrf, arrival_id)
    forged = kiosk.client.post(f"/arrivals/{arrival_id}/inspection", data={"findings": ["OTHER"]})
    assert forged.status_code == 403
    unknown = kiosk.client.post(
        f"/arrivals/{arrival_id}/inspection", data={"findings": ["BOMB"], "csrf_token": csrf}
    )
    assert unknown.status_code == 422
    with kiosk.backend.engine.connect() as conn:
        assert conn.execute(select(inspection_results)).first() is None


def test_the_json_api_records_a_result_too(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    check(kiosk, csrf, arrival_id)
    response = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/inspection",
        json={"findings": ["DOCUMENT"], "note": "CMR altered"},
        headers={"X-CSRF-Token": csrf},
    )
    assert response.status_code == 201, response.text
    assert response.json()["outcome"] == "found"
    assert response.json()["findings"] == ["DOCUMENT"]
    unknown = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/inspection",
        json={"findings": ["DOCUMENT"], "extra": 1},
        headers={"X-CSRF-Token": csrf},
    )
    assert unknown.status_code == 422
    detail = kiosk.client.get(f"/api/arrivals/{arrival_id}").json()
    assert [i["note"] for i in detail["inspections"]] == ["CMR altered"]
