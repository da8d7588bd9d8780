"""The exit confirmations this country's posts address to a partner country's posts: taken off
the national broker by the centre, which takes custody and relays them to the partner's centre.

The centre listens (a shared subscription, so one instance takes each) on
`carec/v1/<country>/+/to/+/evidence/exit_confirmation`. For each envelope addressed to a node
of a partner country, in one transaction: it is verified (its origin's signature; a frame's
envelopes each keep their own), recorded as applied (its id, so a redelivered one is relayed
once), given to the CIS's event feed, queued in a `relay` to the partner's centre, and
acknowledged to the post, whose outbox then stops sending it (custody passed, as between mail
servers). Only after that commit does the link acknowledge it to the broker.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

from sqlalchemy import Connection, Engine, insert, select

from centre.box_events import feed_events
from edge.logs import log_event
from edge.store.schema import inbox_applied
from edge.timeutil import utcnow
from sync.envelope import Envelope, EnvelopeRejected, KeyLookup, open_envelope
from sync.frame import is_frame, unpack
from sync.inbox import Inbox, Incoming, Outcome, Result
from sync.messages import AckMessage, Message, RelayMessage
from sync.outbox import Outbox
from sync.topics import TopicError, parse_topic

log = logging.getLogger(__name__)

PEER = "relay"


def relay_patterns(country: str) -> list[str]:
    """What the centre's relay tap subscribes to on its national broker."""
    return [f"carec/v1/{country}/+/to/+/evidence/exit_confirmation"]


class RelayTap:
    def __init__(
        self, engine: Engine, outbox: Outbox, key_for: KeyLookup, partners: Mapping[str, str],
        quarantine: Inbox,
    ) -> None:  # fmt: skip
        """`partners`: partner country -> its centre's id; `quarantine`: the centre's inbox,
        which keeps what cannot be relayed."""
        self.engine = engine
        self.outbox = outbox
        self.key_for = key_for
        self.partners = dict(partners)
        self.quarantine = quarantine
        self.node_id = outbox.signer.node_id

    def receive(self, batch: Sequence[Incoming]) -> list[Result]:
        results: list[Result] = []
        taken: list[tuple[Envelope, bytes, str]] = []  # envelope, its bytes, partner centre
        for item in batch:
            try:
                taken += self._verified(item)
            except (EnvelopeRejected, TopicError, KeyError) as error:
                reason = error.reason.value if isinstance(error, EnvelopeRejected) else "relay"
                results.append(self.quarantine.quarantine_input(item, reason, str(error)[:500]))
        with self.engine.begin() as conn:
            results += self._take(conn, taken)
        return results

    def _verified(self, item: Incoming) -> list[tuple[Envelope, bytes, str]]:
        route = parse_topic(item.topic)
        partner = self.partners.get(route.destination[:2])
        if partner is None:
            raise KeyError(f"no partner link to {route.destination[:2]}, for {route.destination}")
        covered_by = None
        parts = [bytes(item.data)]
        if is_frame(item.data):
            frame = unpack(item.data, self.key_for)
            parts, covered_by = frame.envelopes, frame.covered_by
        out = []
        for jws in parts:
            envelope = open_envelope(
                jws, self.key_for, expected_destination=route.destination, now=utcnow(),
                max_age=None, covered_by=covered_by,
            )  # fmt: skip
            out.append((envelope, jws, partner))
        return out

    def _take(self, conn: Connection, taken: list[tuple[Envelope, bytes, str]]) -> list[Result]:
        ids = [envelope.id for envelope, _, _ in taken]
        done = set(
            conn.execute(select(inbox_applied.c.id).where(inbox_applied.c.id.in_(ids))).scalars()
        )
        fresh = [(e, jws, p) for e, jws, p in taken if e.id not in done]
        messages: list[tuple[Message, str, str | None]] = [
            (RelayMessage(envelope=jws.decode("ascii"), via=(self.node_id,)), partner, None)
            for _, jws, partner in fresh
        ]
        by_origin: dict[str, list[str]] = {}
        for envelope, _, _ in taken:  # a duplicate is acknowledged again: an ack may be lost
            by_origin.setdefault(envelope.origin, []).append(envelope.id)
        messages += [
            (AckMessage(ids=tuple(ids[i : i + 1000])), origin, None)
            for origin, ids in by_origin.items()
            for i in range(0, len(ids), 1000)
        ]
        if fresh:
            now = utcnow()
            conn.execute(
                insert(inbox_applied),
                [
                    {"id": e.id, "origin": e.origin, "type": e.type, "stream": e.stream,
                     "seq": e.seq, "peer": PEER, "applied_at": now}
                    for e, _, _ in fresh
                ],
            )  # fmt: skip
            feed_events(conn, [e for e, _, _ in fresh])
        if messages:
            self.outbox.send_many(messages, conn)
        for envelope, _, partner in fresh:
            log_event(log, logging.INFO, "relay.taken", message_id=envelope.id,
                      origin=envelope.origin, partner=partner)  # fmt: skip
        return [
            Result(Outcome.APPLIED if e.id not in done else Outcome.DUPLICATE, e.id)
            for e, _, _ in taken
        ]
