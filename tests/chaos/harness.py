"""Two posts as two real `carec-edge run` processes, a real mosquitto between them (optionally
through a TCP proxy), and what the chaos tests measure: sent, applied, lost, duplicates, and
whether every stream was applied in order.

The scale comes from CHAOS_SCALE (1 inside `make test`, more with `make chaos`)."""

from __future__ import annotations

import json
import os
import signal
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, select

from edge.cli.demo_cmd import node_config as demo_node_config
from edge.manifest import parse_manifest
from edge.store import open_database
from edge.store.schema import outbox
from provisioning.identity.fleet import Fleet
from sync.messages import ArrivalMessage, ExitConfirmationMessage, Message
from sync.outbox import Outbox, Route, Signer
from tests.fixtures.records import record
from tests.integration.service_process import ServiceProcess
from tests.sync.crossing import ENTRY, EXIT

SCALE = max(1, int(os.environ.get("CHAOS_SCALE", "1")))


def node_config(
    fleet: Fleet, node_id: str, port: int, path: Path, redeliver_after_s: float = 3.0
) -> Path:
    """Chaos wants lost messages back fast (3 s); the benchmark runs with the default."""
    path.write_text(demo_node_config(fleet, node_id, port, redeliver_after_s), encoding="utf-8")
    return path


@dataclass
class Node:
    node_id: str
    config: Path
    data_dir: Path
    engine: Engine
    process: ServiceProcess | None = None

    def start(self) -> Node:
        self.process = ServiceProcess(self.config, self.data_dir)
        self.process.wait_log("sync.subscribed")
        return self

    def kill(self) -> None:
        """kill -9: no shutdown, no flush, whatever was in flight stays in flight."""
        assert self.process is not None
        self.process.process.send_signal(signal.SIGKILL)
        self.process.process.wait(timeout=60)
        self.process = None

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()
            self.process = None

    def states(self) -> dict[str, int]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(outbox.c.state, func.count()).group_by(outbox.c.state)).all()
        return {state: int(n) for state, n in rows}


def make_node(
    fleet: Fleet, node_id: str, port: int, root: Path, redeliver_after_s: float = 3.0
) -> Node:
    data_dir = root / node_id
    engine = open_database(data_dir)
    config = node_config(fleet, node_id, port, root / f"{node_id}.toml", redeliver_after_s)
    return Node(node_id, config, data_dir, engine)


def burst(node: Node, fleet: Fleet, start: int, count: int, *, evidence: bool = True) -> list[str]:
    """Queue `count` messages from `node` to the entry post, as the running service's own
    outbox would (another writer on the same SQLite file): exit confirmations (evidence) and
    arrivals (operational), two ordered streams; arrivals only without `evidence`."""
    return queue(node, fleet, payloads(start, count, evidence=evidence))


def payloads(
    start: int, count: int, *, evidence: bool = True
) -> list[tuple[Message, str, str | None]]:
    """What `burst` sends, built but not yet sent."""
    items: list[tuple[Message, str, str | None]] = []
    for n in range(start, start + count):
        message: Message
        if evidence and n % 2:
            message = ExitConfirmationMessage(
                record=parse_manifest(
                    record(
                        ref=f"C{n:08d}",
                        transport={"plate": f"{n % 1000:03d} ABC 02", "nationality": "KZ"},
                    )
                ),
                exited_at="2026-11-28T08:35:00Z",
                exit_node=EXIT,
            )
        else:
            message = ArrivalMessage.model_validate(
                {
                    "node": EXIT,
                    "lane": "1",
                    "arrival_id": n + 1,
                    "opened_at": "2026-11-28T08:30:00Z",
                }
            )
        items.append((message, ENTRY, None))
    return items


def queue(
    node: Node,
    fleet: Fleet,
    items: list[tuple[Message, str, str | None]],
    chunk: int = 500,
    *,
    transparency: bool = True,
) -> list[str]:
    """Sign and store `items` in `node`'s outbox, `chunk` to a transaction; their ids (logged
    in its transparency log unless `transparency` is false, as its service would)."""
    box = Outbox(
        node.engine, Signer.load(fleet.nodes[node.node_id], node.node_id), [Route("*", "hub")],
        transparency=transparency,
    )  # fmt: skip
    ids: list[str] = []
    for start in range(0, len(items), chunk):
        ids += box.send_many(items[start : start + chunk])
    return ids


@dataclass(frozen=True)
class Tally:
    sent: int
    applied: int
    lost: int
    duplicates: int
    in_order: bool

    def to_json(self, scenario: str) -> str:
        return json.dumps({"scenario": scenario, "sent": self.sent, "applied": self.applied,
                           "lost": self.lost, "duplicates": self.duplicates, "in_order": self.in_order})  # fmt: skip


def tally(sent: list[str], receiver: Engine) -> Tally:
    """What the receiver applied of `sent`, in the order it applied it (inbox_applied's rowid)."""
    with receiver.connect() as conn:
        rows = conn.exec_driver_sql(
            "SELECT id, stream, seq FROM inbox_applied WHERE type != 'ack' ORDER BY rowid"
        ).all()
    last: dict[str, int] = {}
    in_order = True
    for _, stream, seq in rows:
        in_order = in_order and seq > last.get(stream, 0)
        last[stream] = seq
    applied = {message_id for message_id, _, _ in rows}
    pairs = [(stream, seq) for _, stream, seq in rows]
    return Tally(
        sent=len(sent),
        applied=len(applied & set(sent)),
        lost=len(set(sent) - applied),
        duplicates=len(pairs) - len(set(pairs)),
        in_order=in_order,
    )
