"""What the outbox and the quarantine hold, for the kiosk's corner and status page: asked of the
`edge.sync_status.SyncStatusSource` the wiring hands in, never read from sync's tables."""

from __future__ import annotations

from edge.sync_status import SyncSnapshot, SyncStatusSource

NOT_CONFIGURED = SyncSnapshot(
    waiting=0, unconfirmed=0, refused=0, oldest_waiting_at=None, quarantined=0
)


def outbox_counts(source: SyncStatusSource | None) -> SyncSnapshot:
    """On the store's thread: the source's snapshot, or nothing when sync is not configured."""
    return source.snapshot() if source is not None else NOT_CONFIGURED
