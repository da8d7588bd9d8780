"""A record the national centre withdraws (cancelled, or no longer for this post) leaves the
box's cache: the matcher stops finding its truck. A later version stands. Through a real inbox,
with envelopes signed by the centre's fleet identity, a withdrawal is applied after the record
it withdraws, even when it arrives first."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, func, select

from edge.manifest import parse_manifest
from edge.manifest_cache import ManifestCache
from edge.matching import Matcher, MatchResult, Observation, PlateRead
from edge.store import open_database
from edge.store.schema import manifest_plates, manifest_seals
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.envelope import default_stream
from sync.inbox import Inbox, Incoming, Outcome
from sync.messages import ManifestMessage, ManifestWithdrawalMessage, Message
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.withdrawals import withdrawal_effects
from tests.fixtures.records import record

CENTRE, BOX = "KZ-CIS", "KZ-NURZHOLY-1"
ARRIVAL = dt.datetime(2026, 11, 28, 8, 30, tzinfo=dt.UTC)


def truck(ref: str, plate: str, **changes: Any) -> dict[str, Any]:
    seals = [{"id": f"SEAL-{ref}", "type": "mechanical", "party": "CU"}]
    return record(ref=ref, transport={"plate": plate, "nationality": "KZ"}, seals=seals, **changes)


def store(cache: ManifestCache, *records: dict[str, Any]) -> None:
    cache.upsert([parse_manifest(r) for r in records])


def match(cache: ManifestCache, read: str) -> MatchResult:
    return Matcher(cache).match(Observation((PlateRead(read, 0.9),), at=ARRIVAL))


def matched_refs(cache: ManifestCache, read: str) -> list[str]:
    return [c.ref for c in match(cache, read).candidates]


def withdraw(cache: ManifestCache, *withdrawals: tuple[str, str, int]) -> int:
    with cache.engine.begin() as conn:
        return cache.withdraw(conn, list(withdrawals))


def children(engine: Engine) -> tuple[int, int]:
    with engine.connect() as conn:
        plates = conn.execute(select(func.count()).select_from(manifest_plates)).scalar_one()
        seals = conn.execute(select(func.count()).select_from(manifest_seals)).scalar_one()
    return plates, seals


def index_is_stored_one(cache: ManifestCache) -> bool:
    """The in-memory plate index kept in step is the one rebuilt from SQLite."""
    rebuilt = ManifestCache(cache.engine).plate_index().keys
    kept = cache.plate_index().keys
    return {k: sorted(v) for k, v in kept.items()} == {k: sorted(v) for k, v in rebuilt.items()}


# -- the cache ---------------------------------------------------------------------------------


def test_a_withdrawn_record_is_forgotten_and_its_truck_no_longer_matches(
    cache: ManifestCache,
) -> None:
    store(cache, truck("GONE", "777 ABC 02"), truck("STAYS", "555 KMN 01"))
    assert matched_refs(cache, "777ABC02") == ["GONE"]  # the plate index is loaded now
    assert withdraw(cache, ("KZ-CIS", "GONE", 1)) == 1
    assert matched_refs(cache, "777ABC02") == []
    assert cache.ids_by_seal(["SEAL-GONE"]) == set()
    assert cache.ids_by_ref("GONE") == set()
    assert matched_refs(cache, "555KMN01") == ["STAYS"]
    assert children(cache.engine) == (2, 1)  # STAYS's tractor and trailer plates, its seal
    assert index_is_stored_one(cache)


def test_a_withdrawal_covers_every_version_up_to_its_own(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02", version=2))
    assert withdraw(cache, ("KZ-CIS", "T", 3)) == 1
    assert cache.count() == 0


def test_a_later_version_than_the_withdrawn_one_stands(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02", version=3))
    assert withdraw(cache, ("KZ-CIS", "T", 2)) == 0
    (found,) = match(cache, "777ABC02").candidates
    assert (found.ref, found.record.version) == ("T", 3)


def test_withdrawing_a_record_not_held_changes_nothing(cache: ManifestCache) -> None:
    store(cache, truck("T", "777 ABC 02"))
    assert withdraw(cache, ("KZ-CIS", "NEVER-SENT", 1), ("KG-CIS", "T", 1)) == 0
    assert cache.count() == 1
    assert matched_refs(cache, "777ABC02") == ["T"]


def test_several_withdrawals_in_one_batch(cache: ManifestCache) -> None:
    store(
        cache,
        truck("A", "111 AAA 01"),
        truck("B", "222 BBB 02", version=2),
        truck("C", "333 CCC 03"),
        truck("A", "444 DDD 04", issuer="KG-CIS"),  # the same ref from another issuer
    )
    matched_refs(cache, "111AAA01")  # load the plate index, so it is kept in step
    removed = withdraw(
        cache,
        ("KZ-CIS", "A", 1),
        ("KZ-CIS", "B", 1),  # B is held at version 2 ...
        ("KZ-CIS", "B", 2),  # ... which a second withdrawal of the batch covers
        ("KZ-CIS", "C", 1),
        ("KZ-CIS", "UNKNOWN", 5),
    )
    assert removed == 3
    assert [(s.record.issuer, s.record.ref) for s in cache.iter_all()] == [("KG-CIS", "A")]
    for read in ("111AAA01", "222BBB02", "333CCC03"):
        assert matched_refs(cache, read) == []
    assert matched_refs(cache, "444DDD04") == ["A"]
    assert index_is_stored_one(cache)


# -- through the box's inbox -------------------------------------------------------------------


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("fleet"), [CENTRE, BOX])


class Centre:
    """The national centre as the box hears it: its outbox signs with the centre's identity
    and numbers records and withdrawals on one stream per box, as `centre.records` does."""

    def __init__(self, fleet: Fleet, data_dir: Path) -> None:
        signer = Signer.load(fleet.nodes[CENTRE], CENTRE)
        self.outbox = Outbox(open_database(data_dir), signer, [Route("*", "broker")])
        self.stream = default_stream(CENTRE, BOX, ManifestMessage.TYPE)

    def send(self, *messages: Message) -> list[Incoming]:
        """Queue `messages` for the box; as the box's broker delivers them, in order."""
        self.outbox.send_many([(m, BOX, self.stream) for m in messages])
        return [Incoming("centre", m.topic, m.envelope) for m in self.outbox.take("broker", 100)]


class Box:
    def __init__(self, fleet: Fleet, data_dir: Path) -> None:
        engine = open_database(data_dir)
        self.cache = ManifestCache(engine)
        outbox = Outbox(engine, Signer.load(fleet.nodes[BOX], BOX), [Route("*", "centre")])
        # As sync.apply.appliers will hold it once the withdrawal applier is registered there.
        every_applier = {
            **appliers(self.cache, outbox),
            "manifest_withdrawal": withdrawal_effects(self.cache),
        }
        self.inbox = Inbox(
            engine,
            BOX,
            key_lookup(TrustStore.load(fleet.trust_store)),
            every_applier,
            on_failed_transaction=self.cache.forget_index,
            acknowledge=acknowledger(outbox),
        )

    def receive(self, items: list[Incoming]) -> list[Outcome]:
        return [r.outcome for r in self.inbox.receive(items)]


def manifest(ref: str, plate: str, version: int = 1) -> ManifestMessage:
    return ManifestMessage(record=parse_manifest(truck(ref, plate, version=version)))


def withdrawal(ref: str, version: int = 1, reason: str = "CANCELLED") -> ManifestWithdrawalMessage:
    return ManifestWithdrawalMessage.model_validate(
        {"issuer": CENTRE, "ref": ref, "version": version, "reason": reason}
    )


def withdrawn_logs(caplog: pytest.LogCaptureFixture) -> list[tuple[object, ...]]:
    return [
        (r.issuer, r.ref, r.version, r.reason)  # type: ignore[attr-defined]
        for r in caplog.records
        if r.getMessage() == "manifest.withdrawn"
    ]


def test_a_record_then_its_withdrawal_in_order(
    fleet: Fleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    centre, box = Centre(fleet, tmp_path / "centre"), Box(fleet, tmp_path / "box")
    caplog.set_level(logging.INFO, logger="sync.withdrawals")
    assert box.receive(centre.send(manifest("T", "777 ABC 02"), manifest("U", "555 KMN 01"))) == [
        Outcome.APPLIED,
        Outcome.APPLIED,
    ]
    assert matched_refs(box.cache, "777ABC02") == ["T"]
    (item,) = centre.send(withdrawal("T", reason="CANCELLED"))
    assert box.receive([item]) == [Outcome.APPLIED]
    assert matched_refs(box.cache, "777ABC02") == []
    assert matched_refs(box.cache, "555KMN01") == ["U"]
    assert withdrawn_logs(caplog) == [(CENTRE, "T", 1, "CANCELLED")]
    assert box.receive([item]) == [Outcome.DUPLICATE]  # redelivered: applied once, logged once
    assert len(withdrawn_logs(caplog)) == 1


def test_a_redelivered_record_does_not_come_back_after_its_withdrawal(
    fleet: Fleet, tmp_path: Path
) -> None:
    centre, box = Centre(fleet, tmp_path / "centre"), Box(fleet, tmp_path / "box")
    record_item, withdrawal_item = centre.send(manifest("T", "777 ABC 02"), withdrawal("T"))
    assert box.receive([record_item, withdrawal_item]) == [Outcome.APPLIED, Outcome.APPLIED]
    assert box.receive([record_item]) == [Outcome.DUPLICATE]
    assert box.cache.count() == 0


def test_a_withdrawal_ahead_of_its_record_waits_for_it(
    fleet: Fleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    centre, box = Centre(fleet, tmp_path / "centre"), Box(fleet, tmp_path / "box")
    caplog.set_level(logging.INFO, logger="sync.withdrawals")
    record_item, withdrawal_item = centre.send(
        manifest("T", "777 ABC 02"), withdrawal("T", reason="NOT_CONCERNED")
    )
    # The broker lost the record; the withdrawal after it arrives first and is parked.
    (parked,) = box.inbox.receive([withdrawal_item])
    assert parked.outcome is Outcome.PARKED
    assert withdrawn_logs(caplog) == []
    # The record comes again from the centre's outbox: applied, then the withdrawal after it.
    (applied,) = box.inbox.receive([record_item])
    assert applied.outcome is Outcome.APPLIED
    assert box.inbox.applied_among([applied.message_id or "", parked.message_id or ""]) == {
        applied.message_id,
        parked.message_id,
    }
    assert box.cache.count() == 0
    assert matched_refs(box.cache, "777ABC02") == []
    assert withdrawn_logs(caplog) == [(CENTRE, "T", 1, "NOT_CONCERNED")]


def test_an_amendment_to_other_offices_withdraws_the_version_held(
    fleet: Fleet, tmp_path: Path
) -> None:
    centre, box = Centre(fleet, tmp_path / "centre"), Box(fleet, tmp_path / "box")
    # Version 2 went to another post: this box gets a withdrawal naming version 2.
    items = centre.send(manifest("T", "777 ABC 02"), withdrawal("T", 2, "NOT_CONCERNED"))
    assert box.receive(items) == [Outcome.APPLIED, Outcome.APPLIED]
    assert box.cache.count() == 0
    # Version 3 names this box's office again: it arrives as a record, and is held.
    assert box.receive(centre.send(manifest("T", "777 ABC 02", version=3))) == [Outcome.APPLIED]
    (found,) = match(box.cache, "777ABC02").candidates
    assert found.record.version == 3
