"""Boxes that reach the centre the way a post does: each its own SQLite store, its outbox
signing real envelopes, and a real `PeerLink` to the country's broker (mutual TLS under its own
certificate), so its outbox publishes and the centre's acknowledgements come back to its inbox."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from sqlalchemy import func, select

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import outbox, sync_counters
from provisioning.identity.fleet import Fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.inbox import Inbox
from sync.messages import Message
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.transport import PeerLink, PeerSettings
from tests.centre.boxes import arrival, decision

PEER = "centre"  # the box's name for its link to the country's broker
# What the broker took and the centre has not acknowledged goes again after this: shorter
# than a box's default (60 s) so that what a killed instance held comes back within the test.
REDELIVER_AFTER = dt.timedelta(seconds=10)


class LinkedBox:
    def __init__(self, fleet: Fleet, node_id: str, data_dir: Path, broker: tuple[str, int]) -> None:
        self.node_id = node_id
        self.engine = open_database(data_dir)
        identity = fleet.nodes[node_id]
        self.outbox = Outbox(
            self.engine, Signer.load(identity, node_id), [Route("*", PEER)],
            redeliver_after=REDELIVER_AFTER,
        )  # fmt: skip
        inbox = Inbox(
            self.engine, node_id, key_lookup(TrustStore.load(fleet.trust_store)),
            appliers(ManifestCache(self.engine), self.outbox),
            acknowledge=acknowledger(self.outbox),
        )  # fmt: skip
        host, port = broker
        settings = PeerSettings(
            PEER, host, port, fleet.ca_bundle, identity / "node.crt", identity / "node.key"
        )
        self.link = PeerLink(settings, node_id, self.outbox, inbox.receive)

    def queue_burst(self, crossings: int, destination: str) -> list[str]:
        """An arrival and a decision for each of `crossings` trucks, queued in the outbox (the
        link sends them once started); their message ids."""
        messages: list[Message] = []
        for arrival_id in range(1, crossings + 1):
            ref = f"{self.node_id}-MAN-{arrival_id}"
            messages += [
                arrival(self.node_id, arrival_id, ref), decision(self.node_id, arrival_id, ref)
            ]  # fmt: skip
        return self.outbox.send_many([(m, destination, None) for m in messages])

    def states(self) -> dict[str, int]:
        """How many of the box's messages are in each outbox state."""
        query = select(outbox.c.state, func.count()).group_by(outbox.c.state)
        with self.engine.connect() as conn:
            return {state: count for state, count in conn.execute(query)}

    def counters(self) -> dict[str, int]:
        """The outbox's counters: how many were sent again (`redelivered` after the timeout,
        `retransmitted` on a later message's acknowledgement)."""
        query = select(sync_counters.c.name, sync_counters.c.value)
        with self.engine.connect() as conn:
            return {name: value for name, value in conn.execute(query)}

    def start(self) -> None:
        self.link.start()

    def close(self) -> None:
        self.link.stop()
        self.engine.dispose()
