"""The sync tables the centre's database holds beside its own (`sync.tables.SYNC_TABLES`: the
box's outbox, inbox, quarantine and peer events), by name, for its migrations and tests."""

from sync.tables import SYNC_TABLES

SYNC_TABLE_NAMES = tuple(table.name for table in SYNC_TABLES)
