"""The queue and a truck's page: what was read, the record, the discrepancies in plain words,
scans that land in the right place, and a record found and attached by hand."""

from __future__ import annotations

import base64
import re

import cv2
import numpy as np

from edge.readings import DocumentRead, PlateCandidate, PlateReading
from tests.kiosk.conftest import T0, Kiosk
from ui_kiosk.routes.trucks import RULES_HEADER

TD3 = "P<KAZIVANOV<<IVAN<<<<<<<<<<<<<<<<<<<<<<<<<<<\nN12345678<KAZ8004125M3012319<<<<<<<<<<<<<<02"


def test_the_queue_shows_the_plate_read_the_best_record_and_its_score(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive(plate="777ABC02")
    kiosk.login("ivan")
    [entry] = kiosk.client.get("/api/queue").json()
    assert (entry["arrival_id"], entry["plate_read"]) == (arrival_id, "777ABC02")
    assert entry["best"]["ref"] == "T1"
    assert entry["best"]["score"] > 0.8
    assert entry["risk"]["lane"] == "green"
    rows = kiosk.client.get("/queue/rows").text
    assert f'id="queue-row-{arrival_id}"' in rows
    assert "777ABC02" in rows
    assert "T1" in rows


def test_the_cameras_crop_of_the_plate_is_shown_beside_the_text_read(kiosk: Kiosk) -> None:
    crop = cv2.imencode(".jpg", np.full((32, 120, 3), 255, np.uint8))[1].tobytes()
    reading = PlateReading(
        "cam-1", T0, (PlateCandidate("777 ABC 02", 0.9, "tractor", "KZ"),), crop, frames=3
    )
    arrival_id = kiosk.lanes.on_reading("1", reading)
    kiosk.login("ivan")
    [entry] = kiosk.client.get("/api/queue").json()
    assert entry["plate_crop"] == "data:image/jpeg;base64," + base64.b64encode(crop).decode()
    assert entry["plate_country"] == "KZ"
    assert entry["plate_crop"] in kiosk.client.get("/queue/rows").text
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-testid="truck-plate-crop"' in page
    kiosk.arrive(plate="A555MH01", lane="2")  # a read without a crop shows none
    assert kiosk.client.get("/queue/rows").text.count('data-testid="queue-plate-crop"') == 1


def test_a_cyrillic_plate_is_shown_as_written_with_its_latin_beside(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive(plate="A555MH01")
    kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert "А 555 МН 01" in page  # the record's plate, in Cyrillic as written
    assert '<span class="latin">A 555 MH 01</span>' in page
    assert "ЖАННА ЩУКИНА" in page
    assert "ZHANNA SHCHUKINA" in page


def test_a_scanned_seal_lands_in_the_readings_and_the_match(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/scan",
        data={"scan": "KZC9999999", "csrf_token": csrf},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert 'data-kind="seal"' in response.text  # the fragment says what was read
    assert "Seal KZC9999999 is on the truck but not on the record." in response.text
    assert "Seal KZC1234567 of the record was not found on the truck." in response.text
    assert 'data-lane="red"' in response.text
    detail = kiosk.client.get(f"/api/arrivals/{arrival_id}").json()
    assert [r["kind"] for r in detail["readings"]] == ["plate", "barcode"]
    assert detail["lane_minimum"] == "physical_inspection"


def test_a_passport_mrz_lands_as_the_drivers_document(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        f"/api/arrivals/{arrival_id}/scans", json={"text": TD3}, headers={"X-CSRF-Token": csrf}
    )
    assert response.status_code == 201
    assert response.json() == {"arrival_id": arrival_id, "kind": "document", "value": "N12345678"}
    arrival = kiosk.lanes.store.get(arrival_id)
    assert arrival is not None
    assert arrival.readings[-1].data["mrz"] == {
        "document_number": "N12345678",
        "lines": TD3.split("\n"),
    }
    detail = kiosk.client.get(f"/api/arrivals/{arrival_id}").json()
    assert detail["discrepancies"] == []  # the record's driver


def test_a_transit_document_of_another_record_is_named(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    kiosk.client.post(
        f"/arrivals/{arrival_id}/scan", data={"scan": "XA87654321", "csrf_token": csrf}
    )
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-code="TRANSIT_DOCUMENT_MISMATCH"' in page


def test_an_empty_or_binary_scan_is_refused(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    csrf = kiosk.login("ivan")
    for text in ("   ", "KZC\x00123"):
        response = kiosk.client.post(
            f"/arrivals/{arrival_id}/scan", data={"scan": text, "csrf_token": csrf}
        )
        assert response.status_code == 422
    assert len(kiosk.lanes.store.get(arrival_id).readings) == 1  # type: ignore[union-attr]


def test_an_unmatched_truck_is_found_by_seal_and_attached_by_hand(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive(plate="999ZZZ99")
    csrf = kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert "No pre-arrival record fits this truck." in page
    found = kiosk.client.get(f"/search?q=KZC7654321&arrival={arrival_id}").text
    assert 'data-ref="T2"' in found
    assert 'data-ref="T1"' not in found
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/attach",
        data={"issuer": "KZ-CIS", "ref": "T2", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert response.headers["location"] == f"/arrivals/{arrival_id}?done=attached"
    manual = kiosk.backend.manual.latest(arrival_id)
    assert manual is not None
    assert (manual.officer_id, manual.record.ref) == ("ivan", "T2")
    detail = kiosk.client.get(f"/api/arrivals/{arrival_id}").json()
    assert detail["entry"]["manual"] is True
    assert detail["record"]["ref"] == "T2"
    assert "MANUAL_MATCH" in detail["entry"]["risk"]["reasons"]
    assert detail["manual_match"]["officer_id"] == "ivan"


def test_search_finds_by_plate_reference_and_document(kiosk: Kiosk) -> None:
    kiosk.login("ivan")

    def refs(query: str) -> list[str]:
        return [hit["ref"] for hit in kiosk.client.get(f"/api/search?q={query}").json()]

    assert refs("777ABC02")[0] == "T1"
    assert refs("A555MH01") == ["T2"]  # Latin typing finds the Cyrillic plate
    assert refs("XA87654321") == ["T2"]
    assert refs("N7654321") == ["T2"]
    assert refs("nothing-like-it") == []


def test_a_truck_opened_by_hand_awaits_its_readings(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        "/arrivals/open", data={"lane": "2", "csrf_token": csrf}, follow_redirects=False
    )
    arrival_id = int(response.headers["location"].split("/")[2].split("?")[0])
    arrival = kiosk.lanes.store.get(arrival_id)
    assert arrival is not None
    assert (arrival.lane, arrival.opened_by) == ("2", "manual")
    bad = kiosk.client.post("/arrivals/open", data={"lane": "9", "csrf_token": csrf})
    assert bad.status_code == 422


def test_status_details_are_for_technicians(kiosk: Kiosk) -> None:
    kiosk.login("tech")
    page = kiosk.client.get("/status").text
    assert "Messages in quarantine" in page
    kiosk.login("ivan")
    page = kiosk.client.get("/status").text
    assert "Messages in quarantine" not in page
    corner = kiosk.client.get("/corner").text
    assert 'data-testid="corner-sync"' in corner


def test_the_shift_report_counts_trucks_by_lane_and_decision(kiosk: Kiosk) -> None:
    green = kiosk.arrive(plate="777ABC02", lane="1")
    red = kiosk.arrive(plate="999ZZZ99", lane="2")
    csrf = kiosk.login("ivan")
    kiosk.client.post(
        f"/arrivals/{green}/decide",
        data={"kind": "release", "reason": "DOCUMENTS_IN_ORDER", "csrf_token": csrf},
    )
    kiosk.client.post(
        f"/arrivals/{red}/decide",
        data={"kind": "refuse", "reason": "NO_VALID_DOCUMENTS", "csrf_token": csrf},
    )
    report = kiosk.client.get("/api/report?hours=24").json()
    assert report["handled"] == 2
    cells = {(c["risk_lane"], c["decision"]): c["trucks"] for c in report["cells"]}
    assert cells == {("green", "release"): 1, ("red", "refuse"): 1}
    assert (report["with_pre_arrival"], report["coverage"]) == (1, 0.5)
    assert kiosk.client.get("/report").status_code == 200


def test_the_json_api_is_described_by_openapi(kiosk: Kiosk) -> None:
    kiosk.login("ivan")
    spec = kiosk.client.get("/openapi.json").json()
    paths = spec["paths"]
    ok = {path: paths[path][method]["responses"] for path, method in [
        ("/api/queue", "get"), ("/api/arrivals/{arrival_id}", "get"),
        ("/api/arrivals/{arrival_id}/decision", "post"), ("/api/search", "get"),
    ]}  # fmt: skip
    refs = {path: str(responses) for path, responses in ok.items()}
    assert "QueueEntry" in refs["/api/queue"]
    assert "ArrivalDetail" in refs["/api/arrivals/{arrival_id}"]
    assert "DecisionView" in refs["/api/arrivals/{arrival_id}/decision"]
    assert "SearchHit" in refs["/api/search"]
    assert "DecisionIn" in str(paths["/api/arrivals/{arrival_id}/decision"]["post"])
    assert not any(path.startswith(("/login", "/queue", "/arrivals/")) for path in paths)


def test_a_document_read_by_the_drivers_parser_shows_as_checked(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    reading = DocumentRead(
        "mrz-1", kiosk.lanes.store.get(arrival_id).opened_at,  # type: ignore[union-attr]
        {"document_number": "N12345678", "surname": "IVANOV", "given_names": "IVAN"}, valid=True,
    )  # fmt: skip
    kiosk.lanes.on_reading("1", reading)
    kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert "N12345678" in page
    assert "IVANOV IVAN" in page
    assert "checks passed" in page


def test_a_scan_that_changes_the_lane_changes_what_the_officer_may_decide(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()  # green: the plate fits its record
    csrf = kiosk.login("ivan")
    page = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert 'data-testid="decision-kind-release" required data-key="1">' in page  # allowed
    shown = _rules_of(page)
    response = kiosk.client.post(
        f"/arrivals/{arrival_id}/scan",
        data={"scan": "KZC9999999", "csrf_token": csrf},  # a seal not on the record: red
        headers={"HX-Request": "true", RULES_HEADER: shown},
    )
    assert 'id="decision-kinds" data-testid="decision-kinds"' in response.text
    assert 'hx-swap-oob="true"' in response.text
    assert 'data-testid="decision-kind-release" required data-key="1" disabled>' in response.text
    live = kiosk.client.get(f"/arrivals/{arrival_id}/live").text
    assert 'data-testid="decision-kind-release" required data-key="1" disabled>' in live


def _rules_of(html: str) -> str:
    found = re.search(r'id="decision-kinds" [^>]*data-rules="([^"]*)"', html)
    assert found, "no decision choices on the page"
    return found.group(1)


def test_a_live_refresh_leaves_the_decision_choices_alone_while_they_stay_the_same(
    kiosk: Kiosk,
) -> None:
    arrival_id = kiosk.arrive()
    kiosk.login("ivan")
    shown = _rules_of(kiosk.client.get(f"/arrivals/{arrival_id}").text)
    assert shown == "release:open documentary_check:open physical_inspection:open refuse:open"
    kiosk.arrive()  # the camera votes again: a new reading, the same lane
    live = kiosk.client.get(f"/arrivals/{arrival_id}/live", headers={RULES_HEADER: shown})
    assert live.status_code == 200
    assert 'data-testid="readings"' in live.text
    assert "decision-kinds" not in live.text, "the officer's radios would be drawn again"
    # A page that shows other choices (or none: an old page) gets them, out of band.
    stale = kiosk.client.get(f"/arrivals/{arrival_id}/live", headers={RULES_HEADER: "x"}).text
    assert 'id="decision-kinds"' in stale
    assert 'hx-swap-oob="true"' in stale


def test_a_supervisor_sees_an_override_where_an_officer_sees_a_bar(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive(plate="999ZZZ99")  # no record: red
    kiosk.login("ivan")
    officer = _rules_of(kiosk.client.get(f"/arrivals/{arrival_id}").text)
    kiosk.login("sara")
    supervisor = _rules_of(kiosk.client.get(f"/arrivals/{arrival_id}").text)
    assert "release:barred" in officer
    assert "refuse:open" in officer
    assert "release:override" in supervisor
    assert "refuse:open" in supervisor
