"""The CIS's API: tokens and countries, records in (refused whole with reasons beside good
ones), the trace of one record, and the boxes' events out through a cursor that misses nothing
and repeats nothing; on SQLite and on PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from centre.api import ApiSettings, create_api
from centre.box_events import centre_acknowledger, centre_appliers
from centre.config import ApiClient, token_sha256
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Outcome
from sync.setup import key_lookup
from tests.centre.boxes import Box, arrival, decision
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY, Centre
from tests.fixtures.records import record

KZ_TOKEN, KG_TOKEN = "kz-secret-token", "kg-secret-token"
CLIENTS = [
    ApiClient(name="kz-cis", country="KZ", token_sha256=token_sha256(KZ_TOKEN)),
    ApiClient(name="kg-cis", country="KG", token_sha256=token_sha256(KG_TOKEN)),
]


def auth(token: str = KZ_TOKEN) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def api(centre: Centre) -> TestClient:
    return TestClient(create_api(centre.desk, ApiSettings("KZ", CLIENTS, max_records=100)))


def test_every_call_but_health_needs_a_known_token(api: TestClient) -> None:
    assert api.get("/v1/health").status_code == 200
    assert api.get("/v1/events").status_code == 401
    assert api.get("/v1/events", headers=auth("wrong")).status_code == 401
    assert api.post("/v1/records", json=[record()]).status_code == 401


def test_a_client_submits_only_its_own_countrys_records(api: TestClient) -> None:
    response = api.post("/v1/records", json=[record()], headers=auth(KG_TOKEN))
    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["outcome"] == "refused"
    assert result["reasons"] == ["records[0].issuer: KZ-CIS is not of KG, this client's"]
    assert (
        api.get(f"/v1/records/KZ-CIS/{record()['ref']}", headers=auth(KG_TOKEN)).status_code == 403
    )


def test_a_bad_record_is_refused_whole_with_its_reasons_beside_good_ones(
    api: TestClient, centre: Centre
) -> None:
    bad = record(ref="26KZ0001-BAD", seals=[{"id": ""}])
    good = record(ref="26KZ0001-GOOD")
    body = api.post("/v1/records", json=[good, bad], headers=auth()).json()
    assert (body["accepted"], body["refused"]) == (1, 1)
    first, second = body["results"]
    assert (first["outcome"], first["routed_to"]) == ("accepted", [NURZHOLY, KORGAS])
    assert second["outcome"] == "refused"
    assert second["reasons"] == ["records[1].seals[0].id: empty"]
    assert centre.desk.get("KZ-CIS", "26KZ0001-BAD") is None


@pytest.mark.parametrize(
    ("body", "status", "detail"),
    [
        (b'{"ref": 1, "ref": 2}', 400, "duplicate key"),
        (b"[1, 2", 400, "body"),
        (b'"a string"', 400, "expected a record or an array"),
        (json.dumps([record()] * 101).encode(), 413, "at most 100"),
    ],
)
def test_bodies_that_are_not_records_are_refused_with_a_reason(
    api: TestClient, body: bytes, status: int, detail: str
) -> None:
    response = api.post("/v1/records", content=body, headers=auth())
    assert response.status_code == status
    assert detail in response.json()["detail"]


def test_an_amendment_and_a_cancellation_through_the_api_show_in_the_records_trace(
    api: TestClient,
) -> None:
    ref = record()["ref"]
    api.post("/v1/records", json=record(), headers=auth())
    amended = api.post("/v1/records", json=record(version=2, cmr="CMR-2"), headers=auth()).json()
    assert amended["results"][0]["outcome"] == "amended"
    cancelled = api.delete(f"/v1/records/KZ-CIS/{ref}", headers=auth())
    assert cancelled.json()["outcome"] == "cancelled"
    trace = api.get(f"/v1/records/KZ-CIS/{ref}", headers=auth()).json()
    assert trace["state"] == "cancelled"
    assert trace["record"]["cmr"] == "CMR-2"
    assert [h["action"] for h in trace["history"]] == [
        "accepted", "routed", "unserved", "amended", "routed", "unserved", "withdrawn",
        "cancelled",
    ]  # fmt: skip
    assert api.delete("/v1/records/KZ-CIS/NOT-THERE", headers=auth()).status_code == 404


def test_the_boxes_events_come_out_of_the_feed_once_each_in_order(
    api: TestClient, centre: Centre, tmp_path: Path
) -> None:
    inbox = Inbox(
        centre.engine, CENTRE, key_lookup(TrustStore.load(centre.fleet.trust_store)),
        centre_appliers(centre.outbox), acknowledge=centre_acknowledger(centre.outbox),
    )  # fmt: skip
    box = Box(centre.fleet, NURZHOLY, tmp_path / "box")
    first = box.send([arrival(NURZHOLY, 1, "REF-1"), decision(NURZHOLY, 1, "REF-1")])
    results = inbox.receive(first)
    assert [r.outcome for r in results] == [Outcome.APPLIED, Outcome.APPLIED]
    # The broker delivers the same messages again: nothing new in the feed.
    assert {r.outcome for r in inbox.receive(first)} == {Outcome.DUPLICATE}

    page: dict[str, Any] = api.get("/v1/events", params={"limit": 1}, headers=auth()).json()
    assert [e["type"] for e in page["events"]] == ["arrival"]
    assert page["events"][0]["payload"]["best_ref"] == "REF-1"
    page = api.get("/v1/events", params={"after": page["cursor"]}, headers=auth()).json()
    assert [e["type"] for e in page["events"]] == ["decision"]
    cursor = page["cursor"]
    assert api.get("/v1/events", params={"after": cursor}, headers=auth()).json() == {
        "events": [], "cursor": cursor,
    }  # fmt: skip
    inbox.receive(box.send([arrival(NURZHOLY, 2)]))
    later = api.get("/v1/events", params={"after": cursor}, headers=auth()).json()
    assert [e["payload"]["arrival_id"] for e in later["events"]] == [2]
    only = api.get("/v1/events", params={"type": "decision"}, headers=auth()).json()
    assert [e["type"] for e in only["events"]] == ["decision"]
    # Each applied message is acknowledged back to the box, in the centre's outbox.
    acked = [i for e in centre.sent(NURZHOLY) if e.type == "ack" for i in e.payload.ids]
    assert acked[:2] == [r.message_id for r in results]
