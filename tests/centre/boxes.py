"""A box as the centre hears it: its own store and outbox, signing real envelopes of the
sync contract, handed to the centre's inbox as the broker would deliver them."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from edge.store import open_database
from edge.store.schema import outbox, outbox_envelopes
from edge.timeutil import utcnow
from provisioning.identity.fleet import Fleet
from sync.inbox import Incoming
from sync.messages import ArrivalMessage, DecisionMessage, ManifestRef, Message
from sync.outbox import Outbox, Route, Signer


class Box:
    def __init__(self, fleet: Fleet, node_id: str, data_dir: Path) -> None:
        self.node_id = node_id
        self.engine = open_database(data_dir)
        self.outbox = Outbox(
            self.engine, Signer.load(fleet.nodes[node_id], node_id), [Route("*", "centre")]
        )

    def send(self, messages: list[Message], destination: str = "KZ-CIS") -> list[Incoming]:
        """Queue `messages` and return them as the centre's broker delivers them."""
        ids = self.outbox.send_many([(m, destination, None) for m in messages])
        query = select(outbox.c.id, outbox.c.topic, outbox_envelopes.c.envelope).join(
            outbox_envelopes, outbox_envelopes.c.id == outbox.c.id
        )
        with self.engine.connect() as conn:
            rows = {r.id: r for r in conn.execute(query.where(outbox.c.id.in_(ids)))}
        return [Incoming("broker", rows[i].topic, bytes(rows[i].envelope)) for i in ids]


def arrival(node: str, arrival_id: int, ref: str | None = None) -> ArrivalMessage:
    return ArrivalMessage(
        node=node, lane="1", arrival_id=arrival_id, opened_at=utcnow(), best_ref=ref
    )


def decision(node: str, arrival_id: int, ref: str) -> DecisionMessage:
    return DecisionMessage(
        arrival={"node": node, "arrival_id": arrival_id},
        manifest=ManifestRef(ref=ref, issuer="KZ-CIS"),
        decision="release", reason="CLEAR", officer="officer-7", decided_at=utcnow(),
    )  # fmt: skip
