"""What a decision sends: the decision to the national system; for a release with a record,
an exit confirmation to the partner's entry post; nothing for a reopening."""

from __future__ import annotations

import datetime as dt

from edge.config import SyncConfig
from edge.decisions import Decision, DecisionKind, ReasonCode, RecordKey
from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.service.outgoing import messages_for
from sync.messages import DecisionMessage, ExitConfirmationMessage
from tests.fixtures.records import CONTRACT_EXAMPLE

SYNC = SyncConfig(decisions_to=["KZ-CIS"], exit_confirmations_to=["KG-TORUGART-1"])
NOW = dt.datetime(2026, 11, 28, 9, 0, tzinfo=dt.UTC)


def decision(kind: DecisionKind, record: RecordKey | None) -> Decision:
    return Decision(
        1, 7, "demo", kind, ReasonCode.DOCUMENTS_IN_ORDER, None, record, None, False, NOW
    )


def test_a_release_with_a_record_goes_to_the_cis_and_the_partner(cache: ManifestCache) -> None:
    cache.upsert([parse_manifest(CONTRACT_EXAMPLE)])
    key = RecordKey(CONTRACT_EXAMPLE["issuer"], CONTRACT_EXAMPLE["ref"])
    sent = messages_for(decision(DecisionKind.RELEASE, key), "KZ-NURZHOLY-1", SYNC, cache)
    assert [(type(m).__name__, to) for m, to, _ in sent] == [
        ("DecisionMessage", "KZ-CIS"), ("ExitConfirmationMessage", "KG-TORUGART-1"),
    ]  # fmt: skip
    first, second = sent[0][0], sent[1][0]
    assert isinstance(first, DecisionMessage)
    assert first.manifest is not None
    assert first.manifest.ref == CONTRACT_EXAMPLE["ref"]
    assert isinstance(second, ExitConfirmationMessage)
    assert second.record.transport.plate == "777 ABC 02"


def test_an_inspection_or_a_truck_without_record_sends_only_the_decision(
    cache: ManifestCache,
) -> None:
    inspection = messages_for(
        decision(DecisionKind.PHYSICAL_INSPECTION, None), "KZ-NURZHOLY-1", SYNC, cache
    )
    assert [to for _, to, _ in inspection] == ["KZ-CIS"]
    released = messages_for(
        decision(DecisionKind.RELEASE, RecordKey("KZ-CIS", "NOT-STORED")),
        "KZ-NURZHOLY-1",
        SYNC,
        cache,
    )
    assert [to for _, to, _ in released] == ["KZ-CIS"]


def test_a_reopening_stays_on_the_box(cache: ManifestCache) -> None:
    assert messages_for(decision(DecisionKind.REOPEN, None), "KZ-NURZHOLY-1", SYNC, cache) == []
