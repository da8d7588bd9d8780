"""A SIE link between two centres: signed file bundles both ways, every incoming record held
in the review queue until an operator approves it (then it reaches the entry post) or rejects
it with a reason; the receiver's acknowledgements come back in its own bundles. Both centres as
`carec-edge centre run` builds them (no broker: files only)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select

from centre.config import CentreConfig
from centre.review_queue import ReviewState
from centre.service import CentreService
from edge.manifest import parse_manifest
from edge.store.schema import outbox
from provisioning.identity.fleet import Fleet
from tests.centre.conftest import CENTRE, KG_CENTRE, TORUGART
from tests.fixtures.records import record


def config(
    fleet: Fleet, node: str, url: str, out: Path, into: Path, **more: object
) -> CentreConfig:
    partner = KG_CENTRE if node == CENTRE else CENTRE
    return CentreConfig.model_validate(
        {
            "centre": {"id": node, "database": url},
            "identity": {"identity_dir": fleet.nodes[node], "trust_store": fleet.trust_store},
            "partners": [{
                "country": partner[:2], "centre": partner, "mode": "sie",
                "bundle_out": out, "bundle_in": into,
            }],
            **more,
        }
    )  # fmt: skip


@pytest.fixture
def pair(database_url: str, fleet: Fleet, tmp_path: Path) -> tuple[CentreService, CentreService]:
    kz_to_kg, kg_to_kz = tmp_path / "kz-to-kg", tmp_path / "kg-to-kz"
    kz = CentreService.build(config(fleet, CENTRE, database_url, kz_to_kg, kg_to_kz))
    kg_url = f"sqlite:///{tmp_path / 'kg.sqlite3'}"
    kg = CentreService.build(
        config(fleet, KG_CENTRE, kg_url, kg_to_kz, kz_to_kg, routing={"KG417000": [TORUGART]})
    )
    return kz, kg


def exchange(kz: CentreService, kg: CentreService) -> None:
    """One scheduled round of each side, KZ first."""
    kz.exchange_bundles(kz.config.partners[0])
    kg.exchange_bundles(kg.config.partners[0])


def destinations(service: CentreService) -> list[tuple[str, str]]:
    with service.engine.connect() as conn:
        rows = conn.execute(select(outbox.c.destination, outbox.c.type).order_by(outbox.c.seq))
        return [tuple(row) for row in rows]  # type: ignore[misc]


def test_a_record_waits_for_review_and_reaches_the_entry_post_once_approved(
    pair: tuple[CentreService, CentreService],
) -> None:
    kz, kg = pair
    kz.desk.submit([parse_manifest(record(office_destination="KG417000"))], "api:kz-cis")
    exchange(kz, kg)
    [held] = kg.review.pending()
    assert (held.partner, held.ref, held.state) == (CENTRE, record()["ref"], ReviewState.PENDING)
    assert kg.desk.get("KZ-CIS", held.ref) is None  # not before an operator says so
    assert (TORUGART, "manifest") not in destinations(kg)

    kg.review.approve(held.id, "operator-1", "checked against the paper manifest")
    stored = kg.desk.get("KZ-CIS", held.ref)
    assert stored is not None
    assert stored.source == f"partner:{CENTRE}"
    assert (TORUGART, "manifest") in destinations(kg)


def test_a_rejected_record_goes_nowhere_and_keeps_its_reason(
    pair: tuple[CentreService, CentreService],
) -> None:
    kz, kg = pair
    kz.desk.submit([parse_manifest(record(office_destination="KG417000"))], "api:kz-cis")
    exchange(kz, kg)
    [held] = kg.review.pending()
    rejected = kg.review.reject(held.id, "operator-1", "vehicle not on the permit list")
    assert (rejected.state, rejected.reason) == (
        ReviewState.REJECTED, "vehicle not on the permit list"
    )  # fmt: skip
    assert kg.review.pending() == []
    assert kg.desk.get("KZ-CIS", held.ref) is None
    assert (TORUGART, "manifest") not in destinations(kg)


def test_the_same_bundle_read_twice_holds_each_record_once_and_acks_come_back(
    pair: tuple[CentreService, CentreService],
) -> None:
    kz, kg = pair
    kz.desk.submit([parse_manifest(record(office_destination="KG417000"))], "api:kz-cis")
    partner = kz.config.partners[0]
    assert partner.bundle_out is not None
    written, _ = kz.exchange_bundles(partner)
    assert written is not None
    again = written.with_name("again-" + written.name)
    again.write_bytes(written.read_bytes())  # the same messages, a second time
    kg.exchange_bundles(kg.config.partners[0])
    assert len(kg.review.pending()) == 1
    # KG's acknowledgement travels back in its bundle; KZ's outbox settles and sends no more.
    kz.exchange_bundles(partner)
    with kz.engine.connect() as conn:
        assert list(conn.execute(select(outbox.c.state)).scalars()) == ["delivered"]
    assert kz.exchange_bundles(partner)[0] is None
    assert kg.exchange_bundles(kg.config.partners[0])[0] is None  # its acks went once
