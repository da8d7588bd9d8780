"""The records desk: what the CIS submits is stored, signed and routed to the boxes of its
offices; amendments, resends, conflicts and cancellations, on SQLite and on PostgreSQL."""

from __future__ import annotations

from typing import Any

from centre.records import Outcome
from edge.manifest import Manifest, parse_manifest
from sync.messages import ManifestMessage, ManifestWithdrawalMessage
from tests.centre.conftest import KORGAS, NURZHOLY, Centre
from tests.fixtures.records import record


def manifest(**changes: Any) -> Manifest:
    return parse_manifest(record(**changes))


def test_a_record_goes_signed_to_the_boxes_of_its_border_and_departure_offices(
    centre: Centre,
) -> None:
    [result] = centre.desk.submit([manifest()], "api:test")
    assert result.outcome is Outcome.ACCEPTED
    assert result.routed_to == (NURZHOLY, KORGAS)
    assert result.unserved_offices == ("KG417000",)  # the destination has no box of ours
    for node in (NURZHOLY, KORGAS):
        [envelope] = centre.sent(node)
        assert envelope.origin == "KZ-CIS"
        assert isinstance(envelope.payload, ManifestMessage)
        assert envelope.payload.record == manifest()


def test_a_record_for_offices_without_boxes_is_kept_and_routed_nowhere(centre: Centre) -> None:
    [result] = centre.desk.submit(
        [manifest(office_border="KZ999999", office_departure=None)], "api:test"
    )
    assert (result.outcome, result.routed_to) == (Outcome.ACCEPTED, ())
    assert centre.sent() == []
    stored = centre.desk.get("KZ-CIS", result.ref)
    assert stored is not None
    assert stored.state == "active"
    actions = [h["action"] for h in centre.desk.history("KZ-CIS", result.ref)]
    assert actions == ["accepted", "unserved"]


def test_a_resend_of_the_same_version_changes_nothing_and_sends_nothing(centre: Centre) -> None:
    centre.desk.submit([manifest()], "api:test")
    [again] = centre.desk.submit([manifest()], "drop:day.jsonl")
    assert again.outcome is Outcome.UNCHANGED
    assert len(centre.sent()) == 2  # the first submission's two boxes, nothing more


def test_the_same_version_with_other_content_is_refused_naming_the_next_version(
    centre: Centre,
) -> None:
    centre.desk.submit([manifest()], "api:test")
    [result] = centre.desk.submit([manifest(cmr="KZ-2026-999999")], "api:test")
    assert result.outcome is Outcome.REFUSED
    assert "amend as version 2" in result.reasons[0]


def test_an_older_version_is_refused(centre: Centre) -> None:
    centre.desk.submit([manifest(version=3)], "api:test")
    [result] = centre.desk.submit([manifest(version=2)], "api:test")
    assert result.outcome is Outcome.REFUSED
    assert "older than the stored version 3" in result.reasons[0]


def test_an_amendment_replaces_the_record_and_withdraws_it_where_it_no_longer_goes(
    centre: Centre,
) -> None:
    centre.desk.submit([manifest()], "api:test")
    # Version 2 leaves from an office without a box: Korgas no longer concerned.
    [result] = centre.desk.submit(
        [manifest(version=2, office_departure="KZ777777", cmr="KZ-2026-000813")], "api:test"
    )
    assert result.outcome is Outcome.AMENDED
    assert (result.routed_to, result.withdrawn_from) == ((NURZHOLY,), (KORGAS,))
    at_nurzholy = [e.payload for e in centre.sent(NURZHOLY)]
    assert [m.record.version for m in at_nurzholy if isinstance(m, ManifestMessage)] == [1, 2]
    at_korgas = [e.payload for e in centre.sent(KORGAS)]
    assert isinstance(at_korgas[0], ManifestMessage)
    assert at_korgas[1] == ManifestWithdrawalMessage(
        issuer="KZ-CIS", ref=result.ref, version=2, reason="NOT_CONCERNED"
    )
    stored = centre.desk.get("KZ-CIS", result.ref)
    assert stored is not None
    assert stored.record.cmr == "KZ-2026-000813"


def test_records_and_their_withdrawals_share_one_ordered_stream_per_box(centre: Centre) -> None:
    centre.desk.submit([manifest()], "api:test")
    centre.desk.cancel("KZ-CIS", manifest().ref, "api:test")
    envelopes = centre.sent(KORGAS)
    assert [e.type for e in envelopes] == ["manifest", "manifest_withdrawal"]
    assert {e.stream for e in envelopes} == {"KZ-CIS/KZ-KORGAS-1/manifest"}
    assert [e.seq for e in envelopes] == [1, 2]


def test_a_cancellation_withdraws_the_record_from_every_box_and_stays_in_the_trace(
    centre: Centre,
) -> None:
    ref = manifest().ref
    centre.desk.submit([manifest()], "api:test")
    result = centre.desk.cancel("KZ-CIS", ref, "api:test")
    assert (result.outcome, result.withdrawn_from) == (Outcome.CANCELLED, (KORGAS, NURZHOLY))
    for node in (NURZHOLY, KORGAS):
        last = centre.sent(node)[-1].payload
        assert isinstance(last, ManifestWithdrawalMessage)
        assert last.reason == "CANCELLED"
    stored = centre.desk.get("KZ-CIS", ref)
    assert stored is not None
    assert stored.state == "cancelled"
    actions = [h["action"] for h in centre.desk.history("KZ-CIS", ref)]
    assert actions == ["accepted", "routed", "unserved", "withdrawn", "cancelled"]
    # ... and it is not reissued under its ref.
    [again] = centre.desk.submit([manifest(version=2)], "api:test")
    assert again.outcome is Outcome.REFUSED
    assert "cancelled" in again.reasons[0]


def test_cancelling_an_unknown_record_is_refused(centre: Centre) -> None:
    assert centre.desk.cancel("KZ-CIS", "NO-SUCH-REF", "api:test").outcome is Outcome.REFUSED


def test_a_batch_of_records_is_one_transaction_with_one_result_each(centre: Centre) -> None:
    batch = [manifest(ref=f"26KZ0001000000{n:04d}") for n in range(50)]
    results = centre.desk.submit([*batch, batch[0]], "drop:day.jsonl")
    assert [r.outcome for r in results] == [Outcome.ACCEPTED] * 50 + [Outcome.UNCHANGED]
    assert len(centre.sent(NURZHOLY)) == 50
    assert [e.seq for e in centre.sent(KORGAS)] == list(range(1, 51))
