"""The durable outbox: the source of truth for every message until its receiver has
acknowledged it.

`send` signs the message and commits it before it returns, so a message the caller was told
about survives any crash. The transport takes messages in priority order (evidence first,
then operational, then telemetry; within a class in the order they were sent, so each stream
keeps its order), marks them in flight, and marks them `acked` on the broker's PUBACK. A lost
link, or a restart, puts what was in flight back to pending.

The broker's PUBACK is not the end: mosquitto acknowledges before it writes to disk, so a
broker killed at the wrong moment forgets messages it acknowledged. Every message but
telemetry and acks therefore waits for the receiver's own `ack` message (`delivered`); one
the broker acknowledged but the receiver has not within `redeliver_after` is sent again, and
the receiver's inbox drops what it already applied. Evidence is never dropped; telemetry
expires, and beyond a cap the oldest is dropped, every drop counted.

A message the broker refuses (a failing PUBACK reason code) is not parked for ever: it is
`refused` with the broker's reason and goes again after a backoff, soon for a code that says
the broker could not take it now (0x80 unspecified, 0x97 quota exceeded), slowly for one that
says it will not until its configuration changes (0x87 not authorised). Until the broker takes
it, it is "stuck": `stuck()` lists it with its reason, for `sync status` and the kiosk.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import ColumnElement, Connection, Engine, and_, func, literal_column, select, update

from edge.store.schema import outbox, outbox_envelopes, sync_counters
from edge.timeutil import format_utc, utcnow
from provisioning.identity.keys import load_private_key
from sync.dialect import SyncSql, sync_sql
from sync.envelope import default_stream, seal_new
from sync.messages import Message, Priority
from sync.tlog.store import EntryKind, PendingEntry, pending_entry
from sync.tlog.store import append as tlog_append
from sync.topics import topic_for

# Acks of a batch arrive out of step by about this much; an older gap than that is a loss.
FAST_RETRANSMIT_GRACE = dt.timedelta(seconds=2)
# Control (the fleet's twin changes and commands: few and small) goes before everything, so a
# box's backlog never holds back the command that would cure it; -1 keeps the stored ranks of
# the classes that came first.
RANK = {Priority.CONTROL: -1, Priority.EVIDENCE: 0, Priority.OPERATIONAL: 1, Priority.TELEMETRY: 2}
PRIORITY_OF_RANK = {rank: priority for priority, rank in RANK.items()}
# Not yet acknowledged by the receiver: what a file bundle carries, in queue order.
UNCONFIRMED = ("pending", "inflight", "acked", "refused")

# The hot paths are SQL through the driver (`sync.dialect`, per database): one plain
# executemany or query each, without the per-row work of SQLAlchemy's expressions (a third of
# a message's time on the sender). A state change touches only the small `outbox` row; the
# envelope is written once, apart.

# PUBACK reason codes (MQTT 5, 3.4.2.1) that say the broker could not take the message now:
# it may well take it on the next try. Any other failing code waits for the broker's
# configuration to change (0x87 not authorised, 0x90 topic name invalid, 0x99 payload format).
TRANSIENT_REFUSALS = frozenset({0x80, 0x83, 0x91, 0x97})


@dataclass(frozen=True)
class RefusalBackoff:
    """How long a refused message waits before it goes again: doubling from `first`, at most
    `cap`; a transient refusal and a lasting one each with their own."""

    transient_first: dt.timedelta = dt.timedelta(seconds=2)
    transient_cap: dt.timedelta = dt.timedelta(minutes=5)
    lasting_first: dt.timedelta = dt.timedelta(minutes=1)
    lasting_cap: dt.timedelta = dt.timedelta(hours=1)

    def delay(self, code: int, refusals: int) -> dt.timedelta:
        """The wait after the `refusals`-th refusal (1 for the first)."""
        transient = code in TRANSIENT_REFUSALS
        first = self.transient_first if transient else self.lasting_first
        cap = self.transient_cap if transient else self.lasting_cap
        doubled: dt.timedelta = first * 2 ** min(max(refusals - 1, 0), 30)
        return min(cap, doubled)


@dataclass(frozen=True)
class StuckMessage:
    """A message the broker refused and has not yet taken: why, how often, when it goes again."""

    id: str
    peer: str
    type: str
    destination: str
    created_at: dt.datetime
    state: str  # refused (waiting for retry_at), or pending / inflight again
    refusals: int
    reason: str
    retry_at: dt.datetime | None

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id, "peer": self.peer, "type": self.type,
            "destination": self.destination, "created": format_utc(self.created_at),
            "state": self.state, "refusals": self.refusals, "reason": self.reason,
            "retry_at": format_utc(self.retry_at) if self.retry_at else None,
        }  # fmt: skip


@dataclass(frozen=True)
class Signer:
    """This node: its id, its signing key, and its certificate (sent along in each envelope)."""

    node_id: str
    private_key: Ed25519PrivateKey
    certificate_pem: bytes | None = None

    @classmethod
    def load(cls, directory: Path, node_id: str) -> Signer:
        """`node.key` and, when issued, `node.crt` from an identity directory."""
        key = load_private_key(directory / "node.key")
        certificate = directory / "node.crt"
        pem = certificate.read_bytes() if certificate.exists() else None
        if pem is not None:
            public = x509.load_pem_x509_certificate(pem).public_key()
            raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
            if public.public_bytes(*raw) != key.public_key().public_bytes(*raw):
                raise ValueError(f"{certificate} is not the certificate of {directory}/node.key")
        return cls(node_id, key, pem)


@dataclass(frozen=True)
class Route:
    """Destinations matching `pattern` (fnmatch, e.g. "KG-*") go through `peer`."""

    pattern: str
    peer: str


class NoRouteError(ValueError):
    pass


class Outgoing(NamedTuple):  # a tuple: made by the thousand on the link's hot path
    id: str
    peer: str
    topic: str
    envelope: bytes
    priority: Priority
    stream: str
    seq: int


@dataclass(frozen=True)
class QueueStatus:
    peer: str
    priority: Priority
    depth: int  # pending or in flight
    awaiting_receiver: int  # the broker has them, the receiver has not acknowledged them
    oldest_s: float | None  # age of the oldest of those
    last_ack: dt.datetime | None
    dropped: int
    expired: int
    refused: int = 0  # refused by the broker, waiting to go again

    def to_dict(self) -> dict[str, object]:
        return {
            "peer": self.peer,
            "class": self.priority.value,
            "depth": self.depth,
            "awaiting_receiver": self.awaiting_receiver,
            "oldest_s": None if self.oldest_s is None else round(self.oldest_s, 1),
            "last_ack": self.last_ack.isoformat().replace("+00:00", "Z") if self.last_ack else None,
            "dropped": self.dropped,
            "expired": self.expired,
            "refused": self.refused,
        }


class Outbox:
    def __init__(
        self,
        engine: Engine,
        signer: Signer,
        routes: Sequence[Route],
        *,
        telemetry_ttl: dt.timedelta = dt.timedelta(hours=6),
        telemetry_cap: int = 10_000,
        redeliver_after: dt.timedelta = dt.timedelta(seconds=60),
        max_unconfirmed: int = 2000,
        refusal_backoff: RefusalBackoff = RefusalBackoff(),
        transparency: bool = True,
    ) -> None:
        self.engine = engine
        # Every envelope signed here goes into the node's transparency log (sync.tlog.store),
        # in the transaction that stores it; off only to measure what logging costs.
        self.transparency = transparency
        self._sql: SyncSql = sync_sql(engine)  # SQLite's or PostgreSQL's statements
        # The queue's order after rank: insertion order (`sync.dialect` says why each).
        self._queue_order: ColumnElement[str] = literal_column(f"outbox.{self._sql.queue_order}")
        self.signer = signer
        self.routes = list(routes)
        self.telemetry_ttl = telemetry_ttl
        self.telemetry_cap = telemetry_cap
        self.redeliver_after = redeliver_after
        # Flow control: at most this many messages the broker has and the receiver has not
        # acknowledged. The rest waits here, where evidence can still overtake it, rather than
        # in the broker's queue, where it cannot.
        self.max_unconfirmed = max_unconfirmed
        self.refusal_backoff = refusal_backoff

    @property
    def peers(self) -> list[str]:
        return list(dict.fromkeys(route.peer for route in self.routes))

    def peer_for(self, destination: str) -> str:
        for route in self.routes:
            if fnmatch.fnmatchcase(destination, route.pattern):
                return route.peer
        raise NoRouteError(f"no peer carries messages to {destination}")

    # -- the sender's side ------------------------------------------------------------------

    def send(self, payload: Message, destination: str, *, stream: str | None = None) -> str:
        """Sign and store one message; its id. Durable when this returns."""
        return self.send_many([(payload, destination, stream)])[0]

    def send_many(
        self, items: Sequence[tuple[Message, str, str | None]], conn: Connection | None = None
    ) -> list[str]:
        """Sign and store messages in one transaction (or in the caller's), in order; their ids."""
        if conn is None:
            with self.engine.begin() as own:
                return self.send_many(items, own)
        now = utcnow()
        created_at = format_utc(now)
        expires_at = format_utc(now + self.telemetry_ttl)
        ids: list[str] = []
        telemetry_peers: set[str] = set()
        rows: list[tuple[object, ...]] = []
        envelopes: list[tuple[str, bytes]] = []
        logged: list[PendingEntry] = []
        sql = self._sql
        sequences = _Sequences(conn, sql)
        origin = self.signer.node_id
        if sql.lock_streams is not None:  # several writers: lock every stream, in one order
            sequences.lock(
                stream or default_stream(origin, destination, payload.TYPE)
                for payload, destination, stream in items
            )
        peers: dict[str, str] = {}  # a batch goes to few destinations
        for payload, destination, stream in items:
            peer = peers.get(destination) or peers.setdefault(
                destination, self.peer_for(destination)
            )
            stream = stream or default_stream(origin, destination, payload.TYPE)
            seq = sequences.next(stream)
            message_id, signed = seal_new(
                payload, self.signer.private_key, origin, destination, seq=seq, stream=stream,
                created=now, certificate_pem=self.signer.certificate_pem,
            )  # fmt: skip
            telemetry = payload.PRIORITY is Priority.TELEMETRY
            if telemetry:
                telemetry_peers.add(peer)
            rows.append(
                (
                    message_id, peer, RANK[payload.PRIORITY], payload.TYPE, destination, stream,
                    seq, topic_for(origin, destination, payload.TYPE), created_at,
                    expires_at if telemetry else None,
                )
            )  # fmt: skip
            envelopes.append((message_id, signed))
            ids.append(message_id)
            if self.transparency:
                entry = pending_entry(
                    EntryKind.SIGNED, message_id, payload.TYPE, destination, signed
                )
                if entry is not None:
                    logged.append(entry)
        sequences.save()
        conn.exec_driver_sql(sql.insert_message, rows)
        conn.exec_driver_sql(sql.insert_envelope, envelopes)
        tlog_append(conn, logged, created_at)
        for peer in telemetry_peers:
            self._cap_telemetry(conn, peer)
        return ids

    def _cap_telemetry(self, conn: Connection, peer: str) -> None:
        waiting = _waiting(peer, Priority.TELEMETRY)
        depth = conn.execute(select(func.count()).select_from(outbox).where(waiting)).scalar_one()
        excess = depth - self.telemetry_cap
        if excess > 0:
            oldest = select(outbox.c.id).where(waiting).order_by(outbox.c.created_at).limit(excess)
            dropped = conn.execute(
                update(outbox).where(outbox.c.id.in_(oldest)).values(state="dropped")
            ).rowcount
            _count(conn, peer, "dropped.telemetry", dropped)

    # -- the transport's side ---------------------------------------------------------------

    def take(self, peer: str, limit: int) -> list[Outgoing]:
        """Up to `limit` pending messages for `peer`, best class first, now in flight; fewer
        while the receiver lags (`max_unconfirmed`)."""
        now = format_utc(utcnow())  # stored times are fixed-width text: they compare as such
        sql = self._sql
        with self.engine.begin() as conn:
            unconfirmed = conn.exec_driver_sql(sql.unconfirmed, (peer,)).scalar_one()
            credit = self.max_unconfirmed - int(unconfirmed)
            if credit <= 0:  # evidence is few and urgent: flow control does not hold it back
                take = sql.take_evidence
            else:
                take = sql.take
                limit = min(limit, credit)
            taken: list[Outgoing] = []
            expired: list[str] = []
            # Rows unpacked as tuples: a named attribute of a Row costs a lookup each, and a
            # take is up to thousands of rows on the link's thread.
            for message_id, topic, envelope, rank, stream, seq, expires_at in conn.exec_driver_sql(
                take, (peer, limit)
            ):
                if expires_at is not None and expires_at < now:
                    expired.append(message_id)
                else:
                    priority = PRIORITY_OF_RANK[rank]
                    taken.append(Outgoing(message_id, peer, topic, envelope, priority, stream, seq))
            if expired:
                conn.execute(update(outbox).where(outbox.c.id.in_(expired)).values(state="expired"))
                _count(conn, peer, "expired.telemetry", len(expired))
            if taken:
                conn.exec_driver_sql(sql.in_flight, (now, sql.listed([m.id for m in taken])))
        return taken

    def acknowledged(self, ids: Sequence[str]) -> None:
        """The broker has them (PUBACK). Telemetry and acks are done; the rest waits for the
        receiver's acknowledgement."""
        if not ids:
            return
        now = format_utc(utcnow())
        with self.engine.begin() as conn:
            conn.exec_driver_sql(self._sql.broker_acked, (now, self._sql.listed(list(ids))))

    def delivered(self, conn: Connection, ids: Sequence[str]) -> int:
        """The receiver acknowledged them (its `ack` message, applied in `conn`); how many.

        Fast retransmit: an earlier message of the same stream that the broker took but the
        receiver has not acknowledged, while it acknowledged a later one, was most likely lost
        by the broker; it goes again now rather than after `redeliver_after`."""
        ids = list(ids)
        if not ids:
            return 0
        listed = self._sql.listed(ids)
        done = conn.exec_driver_sql(self._sql.delivered, (listed,)).rowcount
        latest = conn.exec_driver_sql(self._sql.latest_of_streams, (listed,)).all()
        grace = utcnow() - FAST_RETRANSMIT_GRACE
        for peer, stream, seq in latest:
            again = conn.execute(
                update(outbox)
                .where(
                    outbox.c.peer == peer,  # with state: the queue index, not a table scan
                    outbox.c.state == "acked",
                    outbox.c.stream == stream,
                    outbox.c.seq < seq,
                    outbox.c.acked_at < grace,
                )
                .values(state="pending")
            ).rowcount
            _count(conn, peer, "retransmitted", again)
        return int(done)

    def redeliver_overdue(self, peer: str) -> int:
        """Send again what the broker acknowledged but the receiver has not, after
        `redeliver_after` (a broker that lost it, a receiver that lost our ack); how many."""
        cutoff = utcnow() - self.redeliver_after
        with self.engine.begin() as conn:
            count = conn.execute(
                update(outbox)
                .where(
                    outbox.c.peer == peer,
                    outbox.c.state == "acked",
                    outbox.c.acked_at < cutoff,
                )
                .values(state="pending")
            ).rowcount
            _count(conn, peer, "redelivered", count)
        return int(count)

    def refused(self, ids: Sequence[str], peer: str, code: int = 0x80, reason: str = "") -> None:
        """The broker refused them (a failing PUBACK, `code` and its name): kept with the
        reason, out of the queue until their backoff has passed, counted."""
        if not ids:
            return
        now = utcnow()
        text = f"0x{code:02X} {reason}".strip()[:120]
        with self.engine.begin() as conn:
            rows = conn.execute(
                select(outbox.c.id, outbox.c.refusals).where(
                    outbox.c.id.in_(list(ids)), outbox.c.state == "inflight"
                )
            ).all()
            for message_id, refusals in rows:
                retry_at = now + self.refusal_backoff.delay(code, refusals + 1)
                conn.execute(
                    update(outbox)
                    .where(outbox.c.id == message_id)
                    .values(state="refused", refusals=refusals + 1, refusal=text, retry_at=retry_at)
                )
            _count(conn, peer, "refused", len(rows))

    def release_refused(self, peer: str) -> int:
        """Back to pending what the broker refused and whose backoff has passed; how many."""
        with self.engine.begin() as conn:
            count = conn.exec_driver_sql(
                self._sql.release_refused, (peer, format_utc(utcnow()))
            ).rowcount
            _count(conn, peer, "retried.refused", count)
        return int(count)

    def stuck(self, limit: int = 100) -> list[StuckMessage]:
        """What the broker refused and has not taken since, by peer, oldest first (at most
        `limit`). Per peer, so that (peer, state) is the queue index's, not a table scan."""
        rows: list[Any] = []
        with self.engine.connect() as conn:
            for peer in self.peers:
                rows += conn.execute(
                    select(
                        outbox.c.id,
                        outbox.c.peer,
                        outbox.c.type,
                        outbox.c.destination,
                        outbox.c.created_at,
                        outbox.c.state,
                        outbox.c.refusals,
                        outbox.c.refusal,
                        outbox.c.retry_at,
                    )
                    .where(
                        outbox.c.peer == peer,
                        outbox.c.state.in_(("refused", "pending", "inflight")),
                        outbox.c.refusals > 0,
                    )
                    .order_by(outbox.c.rank, self._queue_order)
                    .limit(limit - len(rows))
                ).all()
        return [
            StuckMessage(
                row.id,
                row.peer,
                row.type,
                row.destination,
                row.created_at,
                row.state,
                int(row.refusals),
                row.refusal or "",
                row.retry_at,
            )
            for row in rows
        ]

    def requeue_inflight(self, peer: str | None = None) -> int:
        """Back to pending whatever was in flight (a lost link, a restart); how many."""
        condition = outbox.c.state == "inflight"
        if peer is not None:
            condition = and_(condition, outbox.c.peer == peer)
        with self.engine.begin() as conn:
            return int(
                conn.execute(update(outbox).where(condition).values(state="pending")).rowcount
            )

    def requeue(self, ids: Sequence[str]) -> None:
        """These in-flight messages were not sent after all: pending again."""
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id.in_(list(ids)), outbox.c.state == "inflight")
                .values(state="pending")
            )

    def unconfirmed(self, peer: str) -> list[tuple[str, bytes]]:
        """(topic, envelope) of every message for `peer` its receiver has not acknowledged, in
        queue order (for file bundles): waiting, in flight, refused by the broker, and taken by
        the broker but not yet confirmed (a broker that crashes may lose those)."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(outbox.c.topic, outbox_envelopes.c.envelope)
                .join(outbox_envelopes, outbox_envelopes.c.id == outbox.c.id)
                .where(outbox.c.peer == peer, outbox.c.state.in_(UNCONFIRMED))
                .order_by(outbox.c.rank, self._queue_order)
            ).all()
        return [(topic, bytes(envelope)) for topic, envelope in rows]

    def oldest_waiting_at(self) -> dt.datetime | None:
        """When the oldest message not yet taken by a broker was sent, of every peer."""
        oldest = []
        with self.engine.connect() as conn:
            for peer in self.peers:  # per peer: the queue index, not a table scan
                oldest.append(
                    conn.execute(
                        select(func.min(outbox.c.created_at)).where(
                            outbox.c.peer == peer, outbox.c.state.in_(("pending", "inflight"))
                        )
                    ).scalar()
                )
        found = [t for t in map(_parse_time, oldest) if t is not None]
        return min(found) if found else None

    def has_pending(self, peer: str) -> bool:
        with self.engine.connect() as conn:
            found = conn.execute(
                select(outbox.c.id)
                .where(outbox.c.peer == peer, outbox.c.state == "pending")
                .limit(1)
            ).first()
        return found is not None

    def status(self) -> list[QueueStatus]:
        now = utcnow()
        out = []
        with self.engine.connect() as conn:
            counters = {
                (peer, name): value
                for peer, name, value in conn.execute(select(sync_counters)).all()
            }
            for peer in self.peers:
                for priority, rank in RANK.items():
                    depth, oldest = conn.execute(
                        select(func.count(), func.min(outbox.c.created_at)).where(
                            _waiting(peer, priority)
                        )
                    ).one()
                    refused = conn.execute(
                        select(func.count()).where(
                            outbox.c.peer == peer,
                            outbox.c.state == "refused",
                            outbox.c.rank == rank,
                        )
                    ).scalar_one()
                    awaiting = conn.execute(
                        select(func.count()).where(
                            outbox.c.peer == peer,
                            outbox.c.rank == rank,
                            outbox.c.state == "acked",
                        )
                    ).scalar_one()
                    last_ack = conn.execute(
                        select(func.max(outbox.c.acked_at)).where(
                            outbox.c.peer == peer, outbox.c.rank == rank
                        )
                    ).scalar()
                    oldest_at = _parse_time(oldest)
                    out.append(
                        QueueStatus(
                            peer=peer,
                            priority=priority,
                            depth=int(depth),
                            awaiting_receiver=int(awaiting),
                            oldest_s=(now - oldest_at).total_seconds() if oldest_at else None,
                            last_ack=_parse_time(last_ack),
                            dropped=counters.get((peer, f"dropped.{priority.value}"), 0),
                            expired=counters.get((peer, f"expired.{priority.value}"), 0),
                            refused=int(refused),
                        )
                    )
        return out


class _Sequences:
    """Each stream's next seq within one transaction: read once, counted here, written once.
    On PostgreSQL the read locks the stream's row until the commit, so that two senders on one
    stream take turns and its seqs stay unique and without gaps."""

    def __init__(self, conn: Connection, sql: SyncSql) -> None:
        self.conn = conn
        self.sql = sql
        self.last: dict[str, int] = {}

    def lock(self, streams: Iterable[str]) -> None:
        """Read (and lock) these streams now, sorted, so that two transactions that share
        streams take their locks in one order and never wait for each other in a circle."""
        for stream in sorted(set(streams) - self.last.keys()):
            self.last[stream] = self._read(stream)

    def _read(self, stream: str) -> int:
        return int(self.conn.exec_driver_sql(self.sql.last_seq, (stream,)).scalar() or 0)

    def next(self, stream: str) -> int:
        last = self.last.get(stream)
        if last is None:
            last = self._read(stream)
        self.last[stream] = last = last + 1
        return last

    def save(self) -> None:
        if self.last:
            self.conn.exec_driver_sql(self.sql.save_seq, list(self.last.items()))


def _waiting(peer: str, priority: Priority) -> ColumnElement[bool]:
    return and_(
        outbox.c.peer == peer,
        outbox.c.rank == RANK[priority],
        outbox.c.state.in_(("pending", "inflight")),
    )


def _parse_time(value: object) -> dt.datetime | None:
    """Aggregates come back as stored text, not through the column's type."""
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value
    return dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))


def _count(conn: Connection, peer: str, name: str, amount: int) -> None:
    if amount <= 0:
        return
    conn.exec_driver_sql(sync_sql(conn).add_to_counter, (peer, name, amount))
