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

CENTRE = "KZ-CIS"
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
    return make_fleet(tmp_path_factory.mktemp("fleet"), [CENTRE, NURZHOLY, KORGAS, TORUGART])


@pytest.fixture
def centre(database_url: str, fleet: Fleet) -> Centre:
    engine = open_centre_database(database_url)
    box = Outbox(engine, Signer.load(fleet.nodes[CENTRE], CENTRE), [Route("*", "broker")])
    return Centre(engine, fleet, box, RecordDesk(engine, box, Routing(ROUTING)))
