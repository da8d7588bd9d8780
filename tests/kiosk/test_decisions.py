"""Deciding on a truck: stored with the officer, the truck closed, the lane's minimum kept;
CSRF and role checked on the server; a supervisor overrides and reopens."""

from __future__ import annotations

from edge.decisions import DecisionKind, ReasonCode
from edge.risk import RiskLane
from tests.kiosk.conftest import Kiosk

RELEASE = {"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "note": "all fine"}


def test_an_officer_decides_and_the_decision_is_stored_and_the_truck_closed(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert response.status_code == 303
    assert response.headers["location"] == "/queue?done=decided"
    [decision] = kiosk.backend.decisions.store.for_arrival(arrival_id)
    assert (decision.officer_id, decision.kind, decision.reason) == (
        "ivan", DecisionKind.RELEASE, ReasonCode.DOCUMENTS_IN_ORDER,
    )  # fmt: skip
    assert decision.note == "all fine"
    assert decision.record is not None
    assert decision.record.ref == "T1"
    assert decision.risk_lane is RiskLane.GREEN
    arrival = kiosk.lanes.store.get(arrival_id)
    assert arrival is not None
    assert arrival.close_reason == "decision"
    assert kiosk.decided == [decision]  # the wiring's hook (the outbox) heard of it
    queue = kiosk.client.get("/queue?done=decided").text
    assert f'id="queue-row-{arrival_id}"' not in queue
    assert 'data-testid="flash"' in queue


def test_a_decision_without_the_csrf_token_is_refused(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    kiosk.login("ivan")
    response = kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=RELEASE)
    assert response.status_code == 403
    assert 'data-code="csrf"' in response.text
    wrong = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": "guessed"}
    )
    assert wrong.status_code == 403
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []
    assert kiosk.lanes.store.get(arrival_id).is_open  # type: ignore[union-attr]


def test_another_sessions_csrf_token_does_not_do(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    stale = kiosk.login("ivan")
    kiosk.login("ivan")  # a new session, a new token
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": stale}
    )
    assert response.status_code == 403


def test_a_technicians_decision_is_refused(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("tech")
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf}
    )
    assert response.status_code == 403
    assert 'data-code="not_allowed"' in response.text
    api = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/decision",
        json={"kind": "release", "reason": "DOCUMENTS_IN_ORDER"},
        headers={"X-CSRF-Token": csrf},
    )
    assert api.status_code == 403
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


def test_an_officer_may_not_release_a_red_truck_but_a_supervisor_may(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive(plate="999ZZZ99")  # no record: red
    csrf = kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-lane="red"' in page
    assert 'id="kind-release"' in page
    assert "disabled" in page
    refused = kiosk.client.post(
        f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf}
    )
    assert refused.status_code == 403
    assert 'data-code="needs_supervisor"' in refused.text
    csrf = kiosk.login("sara")
    kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf})
    [decision] = kiosk.backend.decisions.store.for_arrival(arrival_id)
    assert (decision.officer_id, decision.override, decision.record) == ("sara", True, None)


def test_an_officer_may_send_a_red_truck_to_inspection(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive(plate="999ZZZ99")
    csrf = kiosk.login("ivan")
    data = {"kind": "physical_inspection", "reason": "LANE_REQUIRES_CHECK", "csrf_token": csrf}
    kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=data)
    [decision] = kiosk.backend.decisions.store.for_arrival(arrival_id)
    assert (decision.kind, decision.override) == (DecisionKind.PHYSICAL_INSPECTION, False)


def test_a_reason_that_does_not_fit_the_decision_is_refused(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    data = {"kind": "release", "reason": "PROHIBITED_GOODS", "csrf_token": csrf}
    assert kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=data).status_code == 422
    data = {"kind": "release", "reason": "NOT_A_REASON", "csrf_token": csrf}
    assert kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=data).status_code == 422
    assert kiosk.backend.decisions.store.for_arrival(arrival_id) == []


def test_a_decided_truck_cannot_be_decided_again(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf})
    again = kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf})
    assert again.status_code == 409
    assert len(kiosk.backend.decisions.store.for_arrival(arrival_id)) == 1


def test_a_supervisor_reopens_a_decided_truck_and_history_is_kept(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=RELEASE | {"csrf_token": csrf})
    refused = kiosk.client.post(
        f"/arrivals/{arrival_id}/reopen", data={"reason": "DECISION_ERROR", "csrf_token": csrf}
    )
    assert refused.status_code == 403
    csrf = kiosk.login("sara")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'id="reopen-form"' in page
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/reopen",
        data={"reason": "NEW_INFORMATION", "note": "driver came back", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/arrivals/{arrival_id}?done=reopened"
    first, reopening = kiosk.backend.decisions.store.for_arrival(arrival_id)
    assert first.kind is DecisionKind.RELEASE  # never changed
    assert (reopening.kind, reopening.officer_id) == (DecisionKind.REOPEN, "sara")
    queue = kiosk.client.get("/api/queue").json()
    assert [(e["arrival_id"], e["status"]) for e in queue] == [(arrival_id, "reopened")]
    data = {"kind": "documentary_check", "reason": "DISCREPANCY_TO_CLARIFY", "csrf_token": csrf}
    kiosk.client.post(f"/arrivals/{arrival_id}/decide", data=data)
    kinds = [d.kind for d in kiosk.backend.decisions.store.for_arrival(arrival_id)]
    assert kinds == [DecisionKind.RELEASE, DecisionKind.REOPEN, DecisionKind.DOCUMENTARY_CHECK]
    assert [d.kind for d in kiosk.decided] == kinds


def test_the_json_api_decides_with_the_csrf_header(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    body = {"kind": "release", "reason": "DOCUMENTS_IN_ORDER"}
    without = kiosk.client.post(f"/api/arrivals/{arrival_id}/decision", json=body)
    assert without.status_code == 403
    assert without.json()["error"] == "csrf"
    response = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/decision", json=body, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201
    stored = response.json()
    assert (stored["officer_id"], stored["kind"], stored["ref"]) == ("ivan", "release", "T1")
    assert stored["risk_lane"] == "green"
