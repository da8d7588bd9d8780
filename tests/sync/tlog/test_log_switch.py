"""`[sync.transparency] enabled = false` (there only to measure what the log costs) logs
nothing a node signs or applies; on, the default, both are logged, in their transactions."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from edge.config import PeerConfig, SyncConfig, TransparencyConfig
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.store.schema import tlog_entries
from provisioning.identity.fleet import Fleet, make_fleet
from sync.inbox import Incoming
from sync.messages import TelemetryMessage
from sync.setup import SyncParts, build_sync
from tests.sync.tlog.witnessing import ENTRY, EXIT


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("fleet"), [EXIT, ENTRY])


def post(fleet: Fleet, node: str, directory: Path, enabled: bool) -> SyncParts:
    engine = open_database(directory)
    config = SyncConfig(
        identity_dir=fleet.nodes[node], trust_store=fleet.trust_store,
        peers=[PeerConfig(name="hub", host="127.0.0.1", ca_file=fleet.ca_bundle,
                          destinations=["*"])],
        transparency=TransparencyConfig(enabled=enabled),
    )  # fmt: skip
    return build_sync(config, node, engine, ManifestCache(engine))


def logged(parts: SyncParts) -> list[str]:
    with parts.outbox.engine.connect() as conn:
        return list(
            conn.execute(
                select(tlog_entries.c.kind).group_by(tlog_entries.c.kind).having(func.count() == 3)
            ).scalars()
        )


@pytest.mark.parametrize("enabled", [True, False])
def test_the_switch_decides_whether_what_is_signed_and_applied_is_logged(
    fleet: Fleet, tmp_path: Path, enabled: bool
) -> None:
    sender = post(fleet, EXIT, tmp_path / "exit", enabled)
    receiver = post(fleet, ENTRY, tmp_path / "entry", enabled)
    sender.outbox.send_many([(TelemetryMessage(metrics={"n": n}), ENTRY, None) for n in range(3)])
    taken = sender.outbox.take("hub", 10)
    results = receiver.inbox.receive([Incoming("hub", m.topic, m.envelope) for m in taken])
    assert [r.outcome.value for r in results] == ["applied"] * 3
    assert logged(sender) == (["signed"] if enabled else [])
    assert logged(receiver) == (["applied"] if enabled else [])
