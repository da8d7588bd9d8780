"""Building this box's sync from its config: who it is, whom it trusts, its outbox, inbox and
the settings of each peer link. The service and the `sync` commands share it."""

from __future__ import annotations

import contextlib
import datetime as dt
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
from sqlalchemy import Engine

from edge.config import PeerConfig, SyncConfig
from edge.manifest_cache import ManifestCache
from provisioning.identity.node_id import NodeId
from provisioning.identity.trust import TrustStore
from sync.apply import acknowledger, appliers
from sync.inbox import Applier, Inbox
from sync.outbox import Outbox, Route, Signer
from sync.relay import relay_effects
from sync.tlog.store import TransparencyLog
from sync.tlog.witness import tlog_appliers
from sync.transport import PeerSettings


@dataclass(frozen=True)
class SyncParts:
    signer: Signer
    trust: TrustStore
    outbox: Outbox
    inbox: Inbox
    peers: list[PeerSettings]
    # The inbox's key lookup: a revocation replaces its trust store (provisioning.fleet).
    keys: TrustedKeys | None = None
    # The box's transparency log (sync.tlog): its checkpoints go to config.transparency's
    # witnesses (sync.tlog.witness.publish_checkpoint, from sync.tlog.rounds).
    log: TransparencyLog | None = None


KEY_CACHE_TTL_S = 300.0
KEY_CACHE_SIZE = 4096


class TrustedKeys:
    """The trust store's answer for (origin, certificate), remembered for a few minutes: every
    message carries its origin's certificate, and checking the chain each time costs more than
    checking the signature. A `KeyLookup`.

    `replace` puts a new trust store in (a revocation): every remembered answer is forgotten at
    once, so the revoked node's next message is checked against it."""

    def __init__(self, trust: TrustStore) -> None:
        self._trust = trust
        self._cache: dict[tuple[str, bytes | None], tuple[float, Ed25519PublicKey]] = {}
        self._lock = threading.Lock()

    @property
    def trust(self) -> TrustStore:
        return self._trust

    def replace(self, trust: TrustStore) -> None:
        with self._lock:
            self._trust = trust
            self._cache = {}

    def keys_of(self, origin: str) -> list[Ed25519PublicKey]:
        """The keys the trust store vouched for `origin` (by the certificates its envelopes
        carried) since it was last replaced, and its pinned key if it has one: the keys its
        signed notes may be checked with (sync.tlog.witness). A key verified an envelope of
        `origin` moments before its applier runs, so it is among them."""
        with self._lock:
            found = [key for (node, _), (_, key) in self._cache.items() if node == origin]
        with contextlib.suppress(Exception):  # no pin: the certificates' keys are all there is
            found.append(self._trust.public_key_for(NodeId.parse(origin), None))
        unique: dict[bytes, Ed25519PublicKey] = {}
        for key in found:
            unique.setdefault(key.public_bytes_raw(), key)
        return list(unique.values())

    def __call__(self, origin: str, certificate: bytes | None) -> Ed25519PublicKey:
        now = time.monotonic()
        cache = self._cache  # before the trust store: an answer of a replaced one is not kept
        hit = cache.get((origin, certificate))
        if hit is not None and hit[0] > now:
            return hit[1]
        key = self._trust.public_key_for(NodeId.parse(origin), certificate)
        with self._lock:
            if self._cache is cache:
                if len(cache) >= KEY_CACHE_SIZE:
                    cache.clear()
                cache[(origin, certificate)] = (now + KEY_CACHE_TTL_S, key)
        return key


def key_lookup(trust: TrustStore) -> TrustedKeys:
    """The cached key lookup of `trust` (see TrustedKeys)."""
    return TrustedKeys(trust)


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


# Appliers of message types beyond the exchange's (the fleet agent's: twin_desired, command,
# revocation), made from the box's outbox and key lookup once they exist.
ExtraAppliers = Callable[[Outbox, TrustedKeys], Mapping[str, Applier]]


def build_sync(
    config: SyncConfig,
    node_id: str,
    engine: Engine,
    cache: ManifestCache,
    *,
    extra_appliers: ExtraAppliers | None = None,
) -> SyncParts:
    """Raises (IdentityError, OSError, ValueError) with the file and the problem when this
    box's identity or trust store cannot be loaded. `extra_appliers` adds message types the
    inbox applies (it may not replace the exchange's own)."""
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
        transparency=config.transparency.enabled,
    )
    key_for = key_lookup(trust)
    # An exit confirmation relayed by this country's centre arrives inside a `relay`.
    applying = appliers(cache, outbox)
    applying["relay"] = relay_effects(key_for, node_id, applying)
    # The witness protocol: checkpoints of other nodes' logs, cosignatures of ours, alerts.
    tlog = TransparencyLog(engine, node_id, signer.private_key)
    applying.update(
        tlog_appliers(
            tlog, outbox, key_for, node_id, signer.private_key, config.transparency.report_to
        )
    )
    if extra_appliers is not None:
        for message_type, applier in extra_appliers(outbox, key_for).items():
            if message_type in applying:
                raise ValueError(f"{message_type}: already applied by the exchange")
            applying[message_type] = applier
    inbox = Inbox(
        engine,
        node_id,
        key_for,
        applying,
        on_failed_transaction=cache.forget_index,
        acknowledge=acknowledger(outbox),
        gap_timeout=dt.timedelta(seconds=config.gap_timeout_s),
        transparency=config.transparency.enabled,
    )
    peers = [peer_settings(p, config) for p in config.peers]
    return SyncParts(signer, trust, outbox, inbox, peers, key_for, tlog)
