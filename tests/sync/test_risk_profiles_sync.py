"""Risk profiles from the centre to a box, through real signed envelopes and the box's real
inbox (a SQLite file): a version in parts becomes the active set when whole, an older version
never replaces a newer one, and a set from a node that is not the box's centre is refused."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from edge.risk_profiles.model import RuleSet
from edge.risk_profiles.store import ActiveProfiles, active_version
from edge.store import open_database
from edge.store.schema import quarantine, risk_profile_parts
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.envelope import MAX_ENVELOPE_BYTES
from sync.inbox import Inbox, Outcome
from sync.risk_profiles import risk_profile_parts as parts_of
from sync.risk_profiles import risk_profiles_applier
from sync.setup import key_lookup
from tests.centre.boxes import Box

CENTRE, NURZHOLY, KORGAS = "KZ-CIS", "KZ-NURZHOLY-1", "KZ-KORGAS-1"


def rule_set(version: int, count: int, prefix: str = "P") -> RuleSet:
    profiles: list[dict[str, Any]] = [
        {"name": f"{prefix}{i}", "version": 1, "valid_from": "2026-12-01T00:00:00Z",
         "lane": "red", "reason": "SYNC_TEST",
         "criteria": {"hs_prefixes": [f"{8500 + i % 99:04d}"],
                      "carriers": {"names": [f"Carrier number {i} of the corridor"]}}}
        for i in range(count)
    ]  # fmt: skip
    return RuleSet.model_validate(
        {"country": "KZ", "version": version, "issued_at": dt.datetime.now(dt.UTC).isoformat(),
         "issued_by": "analyst", "random": {"yellow": 0.05}, "profiles": profiles}
    )  # fmt: skip


@pytest.fixture
def fleet(tmp_path: Path) -> Fleet:
    return make_fleet(tmp_path / "fleet", [CENTRE, NURZHOLY, KORGAS])


@pytest.fixture
def box_inbox(fleet: Fleet, tmp_path: Path) -> Inbox:
    keys = key_lookup(TrustStore.load(fleet.trust_store))
    appliers = {"risk_profiles": risk_profiles_applier(NURZHOLY, CENTRE)}
    return Inbox(open_database(tmp_path / "nurzholy"), NURZHOLY, keys, appliers)


def names(inbox: Inbox) -> list[str]:
    with inbox.engine.connect() as conn:
        index = ActiveProfiles().index(conn)
        return [] if index is None else [p.name for p in index.rules.profiles]


def test_ten_thousand_profiles_travel_in_parts_and_become_active_when_whole(
    fleet: Fleet, box_inbox: Inbox, tmp_path: Path
) -> None:
    centre = Box(fleet, CENTRE, tmp_path / "centre")
    messages = parts_of(rule_set(7, 10_000))
    assert len(messages) > 1
    delivered = centre.send(messages, NURZHOLY)
    assert all(len(d.data) < MAX_ENVELOPE_BYTES for d in delivered)
    *first, last = delivered
    for incoming in first:
        [result] = box_inbox.receive([incoming])
        assert result.outcome is Outcome.APPLIED
    assert names(box_inbox) == []  # not whole yet: nothing active
    [result] = box_inbox.receive([last])
    assert result.outcome is Outcome.APPLIED
    assert len(names(box_inbox)) == 10_000
    with box_inbox.engine.connect() as conn:
        assert conn.execute(select(risk_profile_parts)).first() is None


def test_an_older_version_arriving_late_never_replaces_the_newer(
    fleet: Fleet, box_inbox: Inbox, tmp_path: Path
) -> None:
    centre = Box(fleet, CENTRE, tmp_path / "centre")
    newer = centre.send(parts_of(rule_set(9, 2, "NEW")), NURZHOLY)
    older = centre.send(parts_of(rule_set(8, 2, "OLD")), NURZHOLY)
    box_inbox.receive(newer)
    results = box_inbox.receive(older)
    assert [r.outcome for r in results] == [Outcome.APPLIED]  # taken, and ignored
    assert names(box_inbox) == ["NEW0", "NEW1"]
    with box_inbox.engine.connect() as conn:
        assert active_version(conn) == 9


def test_a_set_from_a_node_that_is_not_the_centre_is_refused(
    fleet: Fleet, box_inbox: Inbox, tmp_path: Path
) -> None:
    impostor = Box(fleet, KORGAS, tmp_path / "korgas")
    [result] = box_inbox.receive(impostor.send(parts_of(rule_set(50, 1)), NURZHOLY))
    assert result.outcome is Outcome.QUARANTINED
    assert names(box_inbox) == []
    with box_inbox.engine.connect() as conn:
        [row] = conn.execute(select(quarantine.c.detail)).all()
    assert "takes them from KZ-CIS only" in row.detail


def test_a_set_for_another_country_is_refused(
    fleet: Fleet, box_inbox: Inbox, tmp_path: Path
) -> None:
    centre = Box(fleet, CENTRE, tmp_path / "centre")
    other = rule_set(3, 1).model_copy(update={"country": "KG"})
    [result] = box_inbox.receive(centre.send(parts_of(other), NURZHOLY))
    assert result.outcome is Outcome.QUARANTINED
    assert names(box_inbox) == []
