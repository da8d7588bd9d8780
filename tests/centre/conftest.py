"""The centre under test: its database (SQLite and PostgreSQL, `database_url`), a fleet PKI
with the KZ centre and boxes in KZ and KG, and the records desk with a routing table."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import Engine, select

from centre.records import RecordDesk
from centre.routing import Routing
from centre.store import open_centre_database
from edge.store.schema import outbox, outbox_envelopes
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.envelope import Envelope, open_envelope
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup

CENTRE, KG_CENTRE = "KZ-CIS", "KG-CIS"
NURZHOLY, KORGAS, TORUGART = "KZ-NURZHOLY-1", "KZ-KORGAS-1", "KG-TORUGART-1"
# The contract example's border office (KZ051900) and office of departure (KZ051100), and one
# office with two boxes.
ROUTING = {"KZ051900": [NURZHOLY], "KZ051100": [KORGAS], "KZ052000": [KORGAS, NURZHOLY]}


@dataclass
class Centre:
    engine: Engine
    fleet: Fleet
    outbox: Outbox
    desk: RecordDesk

    def sent_raw(self, destination: str) -> list[tuple[Envelope, bytes]]:
        """The envelopes for `destination` as signed, in order, each with its bytes."""
        key_for = key_lookup(TrustStore.load(self.fleet.trust_store))
        query = select(outbox_envelopes.c.envelope).join(
            outbox, outbox_envelopes.c.id == outbox.c.id
        )
        query = query.where(outbox.c.destination == destination)
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(outbox.c.stream, outbox.c.seq)).scalars().all()
        return [
            (
                open_envelope(bytes(data), key_for, expected_destination=destination,
                              now=utcnow(), max_age=None),
                bytes(data),
            )
            for data in rows
        ]  # fmt: skip

    def sent(self, destination: str | None = None) -> list[Envelope]:
        """Every envelope in the outbox (for `destination`), opened and verified, in order."""
        key_for = key_lookup(TrustStore.load(self.fleet.trust_store))
        query = select(outbox.c.destination, outbox_envelopes.c.envelope).join(
            outbox_envelopes, outbox_envelopes.c.id == outbox.c.id
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query.order_by(outbox.c.stream, outbox.c.seq)).all()
        return [
            open_envelope(
                bytes(row.envelope),
                key_for,
                expected_destination=row.destination,
                now=utcnow(),
                max_age=None,
            )
            for row in rows
            if destination is None or row.destination == destination
        ]


@pytest.fixture(scope="session")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    nodes = [CENTRE, KG_CENTRE, NURZHOLY, KORGAS, TORUGART]
    return make_fleet(tmp_path_factory.mktemp("fleet"), nodes)


def make_centre(
    url: str, fleet: Fleet, node: str = CENTRE, routing: Routing | None = None
) -> Centre:
    routing = routing or Routing(ROUTING)
    engine = open_centre_database(url)
    box = Outbox(engine, Signer.load(fleet.nodes[node], node), [Route("*", "broker")])
    return Centre(engine, fleet, box, RecordDesk(engine, box, routing))


@pytest.fixture
def centre(database_url: str, fleet: Fleet) -> Centre:
    return make_centre(database_url, fleet)
