"""Building this box's sync from its config: who it is, whom it trusts, its outbox, inbox and
the settings of each peer link. The service and the `sync` commands share it."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import Engine

from edge.config import PeerConfig, SyncConfig
from edge.manifest_cache import ManifestCache
from provisioning.identity.node_id import NodeId
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.envelope import KeyLookup
from sync.inbox import Inbox
from sync.outbox import Outbox, Route, Signer
from sync.transport import PeerSettings


@dataclass(frozen=True)
class SyncParts:
    signer: Signer
    trust: TrustStore
    outbox: Outbox
    inbox: Inbox
    peers: list[PeerSettings]


def key_lookup(trust: TrustStore) -> KeyLookup:
    def key_for(origin: str, certificate: bytes | None) -> object:
        return trust.public_key_for(NodeId.parse(origin), certificate)

    return key_for  # type: ignore[return-value]


def peer_settings(peer: PeerConfig, config: SyncConfig) -> PeerSettings:
    return PeerSettings(
        name=peer.name,
        host=peer.host,
        port=peer.port,
        ca_file=peer.ca_file,
        cert_file=peer.cert_file or config.identity_dir / "node.crt",
        key_file=peer.key_file or config.identity_dir / "node.key",
        receive=peer.receive,
        max_bytes_per_s=peer.max_bytes_per_s or None,
        window=peer.window,
    )


def build_sync(config: SyncConfig, node_id: str, engine: Engine, cache: ManifestCache) -> SyncParts:
    """Raises (IdentityError, OSError, ValueError) with the file and the problem when this
    box's identity or trust store cannot be loaded."""
    signer = Signer.load(config.identity_dir, node_id)
    trust = TrustStore.load(config.trust_store)
    routes = [Route(pattern, peer.name) for peer in config.peers for pattern in peer.destinations]
    outbox = Outbox(
        engine,
        signer,
        routes,
        telemetry_ttl=dt.timedelta(hours=config.telemetry_ttl_hours),
        telemetry_cap=config.telemetry_cap,
        redeliver_after=dt.timedelta(seconds=config.redeliver_after_s),
    )
    inbox = Inbox(
        engine,
        node_id,
        key_lookup(trust),
        appliers(cache, outbox),
        on_failed_transaction=cache.forget_index,
        acknowledge=acknowledger(outbox),
        gap_timeout=dt.timedelta(seconds=config.gap_timeout_s),
    )
    return SyncParts(signer, trust, outbox, inbox, [peer_settings(p, config) for p in config.peers])
