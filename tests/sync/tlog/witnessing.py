"""Nodes that witness each other's transparency logs, real components only: each its own
SQLite file, outbox, inbox and log, wired as `sync.setup.build_sync` (a post) and
`centre.service` (the centre) wire them. `Hub` plays the broker by hand (what each outbox
hands over goes to the destination's inbox, and waits while that node is offline); the
through-sync tests put a real mosquitto there instead. And the tools of a dishonest node: an
entry rewritten, a tail dropped, a second copy of its database."""

from __future__ import annotations

import hashlib
import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, delete, select, update

from centre.box_events import centre_acknowledger, centre_appliers
from centre.store import open_centre_database
from edge.config import PeerConfig, SyncConfig, TransparencyConfig
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.database import DATABASE_NAME
from edge.store.schema import (
    outbox,
    quarantine,
    tlog_alerts,
    tlog_checkpoints,
    tlog_cosignatures,
    tlog_entries,
    tlog_tiles,
    tlog_witnessed,
)
from provisioning.identity.fleet import Fleet
from provisioning.identity.trust import TrustStore
from sync.inbox import Inbox, Incoming
from sync.messages import TelemetryMessage
from sync.outbox import Outbox, Route, Signer
from sync.setup import build_sync, key_lookup
from sync.tlog.merkle import leaf_hash
from sync.tlog.store import StoredCheckpoint, TransparencyLog, _write_hashes, entry_leaf
from sync.tlog.witness import publish_checkpoint, tlog_appliers
from sync.topics import parse_topic

EXIT, ENTRY, CENTRE = "KZ-NURZHOLY-1", "KG-TORUGART-1", "KZ-CIS"
PEER = "hub"


@dataclass
class Node:
    node_id: str
    engine: Engine
    outbox: Outbox
    inbox: Inbox
    log: TransparencyLog
    witnesses: list[str]
    data_dir: Path

    def traffic(self, to: str, count: int) -> None:
        """`count` messages signed to `to`: entries of this log (and of `to`'s, once applied)."""
        self.outbox.send_many(
            [(TelemetryMessage(metrics={"n": n}), to, None) for n in range(count)]
        )

    def publish(self) -> StoredCheckpoint | None:
        return publish_checkpoint(self.log, self.outbox, self.witnesses)

    def rows(self, table: Any, **where: object) -> list[Any]:
        query = select(table)
        for column, value in where.items():
            query = query.where(table.c[column] == value)
        with self.engine.connect() as conn:
            return list(conn.execute(query).all())

    def alerts(self, reported_by: str | None = None) -> list[Any]:
        rows = self.rows(tlog_alerts)
        return [r for r in rows if reported_by is None or r.reported_by == reported_by]

    def quarantined(self) -> list[str]:
        return [r.reason for r in self.rows(quarantine)]

    def sent_types(self, destination: str) -> list[str]:
        return [r.type for r in self.rows(outbox, destination=destination)]

    def cosigners(self, size: int) -> list[str]:
        return self.log.cosigners(size)

    def witnessed(self, log_node: str) -> list[tuple[int, str]]:
        return sorted((r.size, r.source) for r in self.rows(tlog_witnessed, log_node=log_node))


def make_post(
    fleet: Fleet,
    node_id: str,
    data_dir: Path,
    witnesses: list[str],
    report_to: list[str],
    *,
    broker_port: int = 8883,
) -> Node:
    """A post as `build_sync` makes it from its [sync] config (routes: everything via `hub`)."""
    engine = open_database(data_dir)
    config = SyncConfig(
        identity_dir=fleet.nodes[node_id],
        trust_store=fleet.trust_store,
        peers=[PeerConfig(name=PEER, host="127.0.0.1", port=broker_port,
                          ca_file=fleet.ca_bundle, destinations=["*"])],
        transparency=TransparencyConfig(witnesses=witnesses, report_to=report_to),
    )  # fmt: skip
    parts = build_sync(config, node_id, engine, ManifestCache(engine))
    assert parts.log is not None
    return Node(node_id, engine, parts.outbox, parts.inbox, parts.log, witnesses, data_dir)


def make_centre(
    fleet: Fleet, node_id: str, data_dir: Path, witnesses: list[str], report_to: list[str]
) -> Node:
    """A centre as `centre.service.CentreService.build` wires its inbox: the boxes' events
    and the witness protocol's appliers, on its own database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = open_centre_database(f"sqlite:///{data_dir / 'centre.sqlite3'}")
    signer = Signer.load(fleet.nodes[node_id], node_id)
    box = Outbox(engine, signer, [Route("*", PEER)])
    keys = key_lookup(TrustStore.load(fleet.trust_store))
    log = TransparencyLog(engine, node_id, signer.private_key)
    applying = centre_appliers(
        box, tlog_appliers(log, box, keys, node_id, signer.private_key, report_to)
    )
    inbox = Inbox(engine, node_id, keys, applying, acknowledge=centre_acknowledger(box))
    return Node(node_id, engine, box, inbox, log, witnesses, data_dir)


@dataclass
class Hub:
    """The broker, played by hand: `sync` carries every outbox's messages to their
    destinations' inboxes until nothing moves; an offline node's wait for it, as a persistent
    session's would."""

    nodes: dict[str, Node] = field(default_factory=dict)
    offline: set[str] = field(default_factory=set)
    held: dict[str, list[Incoming]] = field(default_factory=lambda: defaultdict(list))
    senders: list[Node] = field(default_factory=list)  # extra outboxes (a dishonest copy)

    def add(self, *nodes: Node) -> Hub:
        for node in nodes:
            self.nodes[node.node_id] = node
        return self

    def sync(self, max_rounds: int = 20) -> int:
        moved = 0
        for _ in range(max_rounds):
            batches: dict[str, list[Incoming]] = defaultdict(list)
            for node in [*self.nodes.values(), *self.senders]:
                taken = node.outbox.take(PEER, 10_000)
                node.outbox.acknowledged([m.id for m in taken])
                for m in taken:
                    batches[parse_topic(m.topic).destination].append(
                        Incoming(PEER, m.topic, m.envelope)
                    )
            for destination in list(self.held):
                if destination not in self.offline:
                    batches[destination][:0] = self.held.pop(destination)
            if not any(batches.values()):
                return moved
            for destination, items in batches.items():
                if destination in self.offline or destination not in self.nodes:
                    self.held[destination].extend(items)
                    continue
                self.nodes[destination].inbox.receive(items)
                moved += len(items)
        raise AssertionError(f"still moving after {max_rounds} rounds")


# -- a dishonest node ------------------------------------------------------------------------


def rebuild_tiles(engine: Engine) -> None:
    """Write the tree's tiles again from the entries as they now stand (what a node that
    rewrote its history would do to make its proofs agree with it)."""
    with engine.begin() as conn:
        rows = conn.execute(
            select(tlog_entries)
            .where(tlog_entries.c.leaf_index.is_not(None))
            .order_by(tlog_entries.c.leaf_index)
        ).all()
        conn.execute(delete(tlog_tiles))
        leaves = [
            leaf_hash(entry_leaf(r.kind, r.message_id, r.type, r.party, bytes(r.envelope_sha256)))
            for r in rows
        ]
        _write_hashes(conn, 0, 0, leaves)


def rewrite_entry(engine: Engine, leaf_index: int) -> None:
    """Change what entry `leaf_index` says the envelope was, and rebuild the tiles."""
    with engine.begin() as conn:
        conn.execute(
            update(tlog_entries)
            .where(tlog_entries.c.leaf_index == leaf_index)
            .values(envelope_sha256=hashlib.sha256(b"another envelope").digest())
        )
    rebuild_tiles(engine)


def drop_tail(engine: Engine, keep: int) -> None:
    """Forget every entry from `keep` on, with its tiles, checkpoints and cosignatures."""
    with engine.begin() as conn:
        conn.execute(
            delete(tlog_entries).where(
                (tlog_entries.c.leaf_index >= keep) | tlog_entries.c.leaf_index.is_(None)
            )
        )
        conn.execute(delete(tlog_checkpoints).where(tlog_checkpoints.c.size > keep))
        conn.execute(delete(tlog_cosignatures).where(tlog_cosignatures.c.size > keep))
    rebuild_tiles(engine)


def copy_database(source: Path, target: Path) -> Path:
    """A consistent copy of a post's SQLite database (the backup API: WAL included)."""
    target.mkdir(parents=True, exist_ok=True)
    with (
        sqlite3.connect(source / DATABASE_NAME) as src,
        sqlite3.connect(target / DATABASE_NAME) as dst,
    ):
        src.backup(dst)
    return target
