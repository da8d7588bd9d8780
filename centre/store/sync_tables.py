"""The sync tables the centre's database holds beside its own: the box's outbox, inbox,
quarantine and peer events (edge.store.schema), which `sync.outbox` and `sync.inbox` use."""

SYNC_TABLE_NAMES = (
    "outbox",
    "outbox_envelopes",
    "stream_sequences",
    "inbox_applied",
    "stream_positions",
    "inbox_parked",
    "quarantine",
    "sync_counters",
    "peer_events",
)
