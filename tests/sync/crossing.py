"""Two posts and a broker, real components only: a small fleet PKI, mosquitto with mutual TLS
and the ACL, and per post its own SQLite store, outbox, inbox and PeerLink (or its own
`carec-edge run` process, for the chaos tests)."""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import Engine, func, select

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import inbox_applied, outbox
from provisioning.identity.fleet import Fleet, make_fleet
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.broker_config import BrokerConfig, TlsListener, TopicAccess
from sync.broker_process import MosquittoBroker
from sync.inbox import Inbox
from sync.outbox import Outbox, Route, Signer
from sync.setup import key_lookup
from sync.transport import PeerLink, PeerSettings

EXIT, ENTRY = "KZ-NURZHOLY-1", "KG-TORUGART-1"


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll a condition the system under test makes true (there is no event to await across
    processes and databases); fails with `what` after `timeout`."""
    deadline = time.monotonic() + timeout
    pause = threading.Event()
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or condition}")
        pause.wait(0.05)


def start_broker(
    fleet: Fleet, directory: Path, nodes: tuple[str, ...] = (EXIT, ENTRY)
) -> MosquittoBroker:
    config = BrokerConfig(
        tls=TlsListener(
            port=0, cafiles=(fleet.ca_bundle,), certfile=fleet.broker_cert, keyfile=fleet.broker_key
        ),
        access=tuple(TopicAccess.for_node(n) for n in nodes),
    )
    return MosquittoBroker(config, directory).start()


@dataclass
class Post:
    node_id: str
    engine: Engine
    cache: ManifestCache
    outbox: Outbox
    inbox: Inbox
    settings: PeerSettings
    link: PeerLink | None = field(default=None)

    def start(self) -> Post:
        """Start the link, and return once the broker holds this post's subscription (what is
        published to it before then would have nowhere to go)."""
        self.link = PeerLink(self.settings, self.node_id, self.outbox, self.inbox.receive)
        self.link.start()
        if not self.link.subscribed.wait(15):
            raise AssertionError(f"{self.node_id} did not subscribe within 15 s")
        return self

    def stop(self) -> None:
        if self.link is not None:
            self.link.stop()
            self.link = None

    def applied(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(inbox_applied)).scalar_one())

    def states(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all()
        return {state: int(n) for state, n in rows}


def make_post(
    fleet: Fleet,
    node_id: str,
    data_dir: Path,
    port: int,
    *,
    redeliver_after: float = 60.0,
    **settings: object,
) -> Post:
    engine = open_database(data_dir)
    cache = ManifestCache(engine)
    identity = fleet.nodes[node_id]
    box = Outbox(
        engine,
        Signer.load(identity, node_id),
        [Route("*", "hub")],
        redeliver_after=dt.timedelta(seconds=redeliver_after),
    )
    inbox = Inbox(
        engine, node_id, key_lookup(TrustStore.load(fleet.trust_store)), appliers(cache, box),
        on_failed_transaction=cache.forget_index, acknowledge=acknowledger(box),
    )  # fmt: skip
    peer = PeerSettings(
        name="hub", host="127.0.0.1", port=port, ca_file=fleet.ca_bundle,
        cert_file=identity / "node.crt", key_file=identity / "node.key", **settings,  # type: ignore[arg-type]
    )  # fmt: skip
    return Post(node_id, engine, cache, box, inbox, peer)


__all__ = ["ENTRY", "EXIT", "Post", "make_fleet", "make_post", "start_broker", "wait_until"]
