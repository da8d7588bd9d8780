"""The overview: the centre's links (its broker, the relay, each partner's CIE link or SIE
bundles) with their state, and each box the centre routes to (from the routing table and from
where its outbox sends), its backlog (messages not yet delivered, and the oldest one's age) and
its last contact (the latest message from it the centre applied).

Cheap at scale: destinations come from the sender's stream table and last contact from the
receiver's stream positions (a few rows per box), each followed into its indexed table."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from sqlalchemy import Connection, Engine, and_, func, or_, select, tuple_

from centre.console.i18n import N_
from edge.store.schema import inbox_applied, outbox, peer_events, stream_positions, stream_sequences
from sync.inbox import UNORDERED_TYPES
from sync.outbox import UNCONFIRMED

# A message still on its way: not yet taken by the broker, or taken but not yet acknowledged
# by its receiver (acks and telemetry expect no receiver's ack: the broker's is their last).
NOT_SENT = tuple(state for state in UNCONFIRMED if state != "acked")
UNDELIVERED = or_(
    outbox.c.state.in_(NOT_SENT),
    and_(outbox.c.state == "acked", outbox.c.type.not_in(sorted(UNORDERED_TYPES))),
)


@dataclass(frozen=True)
class BoxState:
    node: str
    offices: tuple[str, ...]  # the customs offices it serves, by the routing table
    backlog: int  # outbox messages to it not yet delivered
    oldest: dt.datetime | None  # when the oldest of them was made
    last_contact: dt.datetime | None

    def oldest_age(self, now: dt.datetime) -> dt.timedelta | None:
        return None if self.oldest is None else now - self.oldest


LinkKind = Literal["broker", "relay", "cie", "sie"]
# What each kind is, as the operator reads it (translated when shown).
LINK_KINDS: dict[str, str] = {
    "broker": N_("broker (this country's boxes)"),
    "relay": N_("relay (exits for partners)"),
    "cie": N_("CIE (partner's broker)"),
    "sie": N_("SIE (file bundles)"),
}


@dataclass(frozen=True)
class LinkState:
    """One link as the service sees it now. An SIE partner has no connection (`connected` is
    None) and no counters of its own: its bundles' times say how it goes."""

    name: str
    kind: LinkKind
    partner: str | None = None  # the partner centre's node id: its backlog is its box row
    connected: bool | None = None
    published: int = 0
    received: int = 0
    quarantined: int = 0
    reconnects: int = 0
    last_bundle_read: dt.datetime | None = None
    last_bundle_written: dt.datetime | None = None


def _offices_of(routing: Mapping[str, Sequence[str]]) -> dict[str, list[str]]:
    offices: dict[str, list[str]] = {}
    for office, nodes in routing.items():
        for node in nodes:
            offices.setdefault(node, []).append(office)
    return offices


def _destinations(conn: Connection, centre_id: str) -> set[str]:
    streams = conn.execute(select(stream_sequences.c.stream)).scalars()
    out = set()
    for stream in streams:
        parts = stream.split("/")
        if len(parts) == 3 and parts[0] == centre_id:
            out.add(parts[1])
    return out


def _backlog(conn: Connection) -> dict[str, tuple[int, dt.datetime]]:
    rows = conn.execute(
        select(outbox.c.destination, func.count(), func.min(outbox.c.created_at))
        .where(UNDELIVERED)
        .group_by(outbox.c.destination)
    )
    return {row[0]: (int(row[1]), row[2]) for row in rows}


def _last_applied(conn: Connection, nodes: Iterable[str]) -> dict[str, dt.datetime]:
    """The time the latest message of each node's ordered streams was applied."""
    wanted = set(nodes)
    positions = [
        (row.stream, row.last_seq)
        for row in conn.execute(select(stream_positions))
        if row.stream.split("/", 1)[0] in wanted
    ]
    latest: dict[str, dt.datetime] = {}
    for start in range(0, len(positions), 200):
        chunk = positions[start : start + 200]
        rows = conn.execute(
            select(inbox_applied.c.origin, inbox_applied.c.applied_at).where(
                tuple_(inbox_applied.c.stream, inbox_applied.c.seq).in_(chunk)
            )
        )
        for origin, applied_at in rows:
            if origin not in latest or applied_at > latest[origin]:
                latest[origin] = applied_at
    return latest


def _last_heard(conn: Connection, node: str) -> dt.datetime | None:
    """The latest telemetry or event the node sent (peer_events, indexed by origin)."""
    found: dt.datetime | None = conn.execute(
        select(func.max(peer_events.c.created_at)).where(peer_events.c.origin == node)
    ).scalar()
    return found


def box_states(
    engine: Engine, centre_id: str, routing: Mapping[str, Sequence[str]]
) -> list[BoxState]:
    """Every box of the routing table or of the outbox, by node id."""
    offices = _offices_of(routing)
    with engine.connect() as conn:
        nodes = sorted(set(offices) | _destinations(conn, centre_id))
        backlog = _backlog(conn)
        applied = _last_applied(conn, nodes)
        states = []
        for node in nodes:
            heard = _last_heard(conn, node)
            contacts = [t for t in (applied.get(node), heard) if t is not None]
            count, oldest = backlog.get(node, (0, None))
            states.append(
                BoxState(
                    node,
                    tuple(sorted(offices.get(node, []))),
                    count,
                    oldest,
                    max(contacts) if contacts else None,
                )
            )
    return states
