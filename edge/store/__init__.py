"""The local store: one SQLite database in WAL mode, its tables and its migrations."""

from edge.store.database import open_database

__all__ = ["open_database"]
