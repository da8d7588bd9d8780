"""Risk profiles at the centre: an operator issues a version in the console (a form, a JSON or
TOML upload; CSRF, operators only, audited), the CIS through the API, each stored and signed
to every box of the country; the boxes' inspection results move each profile's hit rate and
the random selection's, shown on the console's page."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from centre.api import ApiSettings, create_api
from centre.console.app import create_console
from centre.console.settings import ConsoleSettings
from centre.fleet.desk import FleetDesk
from centre.risk_profiles.results import hit_rates
from centre.store.schema import risk_inspection_results, risk_profile_sets
from sync.messages import InspectionResultMessage, RiskProfilesMessage
from tests.centre.boxes import Box
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY, ROUTING, Centre
from tests.centre.console_helpers import (
    FAST_HASHER,
    ConsoleUnderTest,
    FakeClock,
    centre_inbox,
    console_app,
)
from tests.centre.test_api import CLIENTS, KG_TOKEN, auth

PROFILE: dict[str, Any] = {
    "name": "auto-parts-kg", "version": 4, "valid_from": "2026-01-01T00:00:00Z",
    "lane": "yellow", "reason": "UNDERVALUATION",
    "criteria": {"hs_prefixes": ["8708"], "destination_countries": ["KG"]},
}  # fmt: skip
DRAFT = {"random": {"yellow": 0.05, "red": 0.01}, "profiles": [PROFILE]}
TOML = """
random = { yellow = 0.1 }

[[profiles]]
name = "tyres"
version = 1
valid_from = 2026-01-01T00:00:00Z
lane = "red"
reason = "SMUGGLING"
criteria = { hs_prefixes = ["4011"], mass_kg_min = 5000.0 }
"""


@pytest.fixture
def console(centre: Centre) -> Iterator[ConsoleUnderTest]:
    app, inbox, review = console_app(centre)  # its operators: olga acts, viktor views
    clock = FakeClock()
    app = create_console(
        centre.engine, ConsoleSettings(cookie_secure=False), inbox, centre_id=CENTRE,
        routing=ROUTING, review=review, clock=clock, hasher=FAST_HASHER,
        fleet_desk=FleetDesk(centre.engine, centre.outbox),
    )  # fmt: skip
    with TestClient(app, base_url="http://127.0.0.1") as client:
        yield ConsoleUnderTest(client, centre, inbox, review, clock)


def sets(centre: Centre) -> list[Any]:
    with centre.engine.connect() as conn:
        return list(conn.execute(select(risk_profile_sets).order_by(risk_profile_sets.c.version)))


def profile_messages(centre: Centre) -> dict[str, list[RiskProfilesMessage]]:
    out: dict[str, list[RiskProfilesMessage]] = {}
    for box in (NURZHOLY, KORGAS):
        out[box] = [
            e.payload for e in centre.sent(box) if isinstance(e.payload, RiskProfilesMessage)
        ]
    return out


def test_an_operator_issues_a_version_to_every_box_of_the_country(
    console: ConsoleUnderTest, centre: Centre
) -> None:
    csrf = console.login("olga")
    response = console.client.post(
        "/risk-profiles", data={"draft": json.dumps(DRAFT), "format": "json", "csrf_token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303, response.text
    [row] = sets(centre)
    assert (row.version, row.country, row.issued_by, row.boxes) == (1, "KZ", "olga", 2)
    sent = profile_messages(centre)
    assert [m.version for m in sent[NURZHOLY]] == [1]
    assert [p.name for p in sent[KORGAS][0].profiles] == ["auto-parts-kg"]
    assert sent[NURZHOLY][0].random.yellow == 0.05
    assert ("olga", "risk_profiles.issue", "risk_profiles:1") in [
        r[:3] for r in console.audit_rows()
    ]
    page = console.client.get("/risk-profiles").text
    assert 'data-version="1"' in page
    # a TOML upload is version 2, editing from where the set stands
    upload = console.client.post(
        "/risk-profiles", data={"csrf_token": csrf},
        files={"upload": ("set.toml", TOML.encode(), "application/toml")},
        follow_redirects=False,
    )  # fmt: skip
    assert upload.status_code == 303, upload.text
    assert [(r.version, r.source, r.profiles) for r in sets(centre)] == [
        (1, "form:json", 1), (2, "upload:toml", 1),
    ]  # fmt: skip


def test_a_bad_draft_is_refused_whole_with_its_reasons(
    console: ConsoleUnderTest, centre: Centre
) -> None:
    csrf = console.login("olga")
    bad = DRAFT | {"profiles": [PROFILE | {"lane": "green"}, PROFILE | {"name": "x y"}]}
    response = console.client.post(
        "/risk-profiles", data={"draft": json.dumps(bad), "format": "json", "csrf_token": csrf}
    )
    assert response.status_code == 422
    assert "profiles[0].lane" in response.text
    assert "profiles[1].name" in response.text
    assert sets(centre) == []
    assert profile_messages(centre) == {NURZHOLY: [], KORGAS: []}


def test_a_viewer_or_a_form_without_csrf_issues_nothing(
    console: ConsoleUnderTest, centre: Centre
) -> None:
    csrf = console.login("viktor")
    viewer = console.client.post(
        "/risk-profiles", data={"draft": json.dumps(DRAFT), "csrf_token": csrf}
    )
    assert viewer.status_code == 403
    assert any(r[1] == "refused" and "/risk-profiles" in r[2] for r in console.audit_rows())
    console.login("olga")
    forged = console.client.post("/risk-profiles", data={"draft": json.dumps(DRAFT)})
    assert forged.status_code == 403
    assert sets(centre) == []


def test_the_cis_submits_a_version_through_the_api(centre: Centre) -> None:
    api = TestClient(create_api(centre.desk, ApiSettings("KZ", CLIENTS)))
    assert api.post("/v1/risk-profiles", json=DRAFT).status_code == 401
    assert api.post("/v1/risk-profiles", json=DRAFT, headers=auth(KG_TOKEN)).status_code == 403
    bad = api.post("/v1/risk-profiles", json={"profiles": [{"name": "p"}]}, headers=auth())
    assert bad.status_code == 422
    assert any(r.startswith("profiles[0].lane") for r in bad.json()["reasons"])
    done = api.post("/v1/risk-profiles", json=DRAFT, headers=auth())
    assert done.status_code == 200, done.text
    assert done.json() == {"version": 1, "profiles": 1, "boxes": [KORGAS, NURZHOLY],
                           "messages": 2}  # fmt: skip
    [row] = sets(centre)
    assert (row.issued_by, row.source) == ("api:kz-cis", "api")


@dataclass
class Result:
    id: int
    outcome: str
    profiles: tuple[tuple[str, int], ...] = ()
    random: str | None = None


def inspection(result: Result, node: str = NURZHOLY) -> InspectionResultMessage:
    return InspectionResultMessage.model_validate(
        {
            "arrival": {"node": node, "arrival_id": result.id}, "result_id": result.id,
            "decision": "documentary_check", "outcome": result.outcome,
            "findings": ["QUANTITY"] if result.outcome == "found" else [],
            "officer": "ivan", "lane": result.random or "yellow",
            "set_version": 1 if result.profiles else None,
            "profiles": [{"name": n, "version": v} for n, v in result.profiles],
            "random": result.random, "recorded_at": "2026-12-08T09:00:00Z",
            "note": "a free-text note",
        }
    )  # fmt: skip


def test_the_boxes_results_move_each_profiles_hit_rate_and_the_random_ones(
    console: ConsoleUnderTest, centre: Centre, tmp_path: Any
) -> None:
    box = Box(centre.fleet, NURZHOLY, tmp_path / "box")
    inbox = centre_inbox(centre)
    results = [
        Result(1, "found", (("auto-parts-kg", 4),)),
        Result(2, "nothing_found", (("auto-parts-kg", 4),)),
        Result(3, "nothing_found", (("auto-parts-kg", 4), ("tyres", 1))),
        Result(4, "found", (), "red"),
        Result(5, "nothing_found", (), "yellow"),
    ]
    delivered = box.send([inspection(r) for r in results])
    assert all(r.outcome.value == "applied" for r in inbox.receive(delivered))
    again = box.send([inspection(results[0])])  # the same result, sent again: counted once
    inbox.receive(again)
    profiles, random = hit_rates(centre.engine)
    assert [(h.name, h.version, h.checked, h.found) for h in profiles] == [
        ("auto-parts-kg", 4, 3, 1), ("tyres", 1, 1, 0),
    ]  # fmt: skip
    assert [(h.lane, h.checked, h.found) for h in random] == [("red", 1, 1), ("yellow", 1, 0)]
    with centre.engine.connect() as conn:
        assert conn.execute(select(risk_inspection_results)).all().__len__() == 5
    console.login("viktor")
    page = console.client.get("/risk-profiles").text
    assert '<tr data-profile="auto-parts-kg" data-version="4">' in page
    assert '<td class="rate">33%</td>' in page
    assert '<tr data-profile="random" data-lane="red">' in page


def test_a_box_speaks_only_for_its_own_results(centre: Centre, tmp_path: Any) -> None:
    impostor = Box(centre.fleet, KORGAS, tmp_path / "korgas")
    inbox = centre_inbox(centre)
    [result] = inbox.receive(impostor.send([inspection(Result(1, "found", ()), NURZHOLY)]))
    assert result.outcome.value == "quarantined"
    assert hit_rates(centre.engine) == ([], [])
