"""The centre's storage: one SQLAlchemy schema on SQLite (the demo, a small country) or
PostgreSQL (production, several instances), migrated by its own alembic chain."""

from centre.store.database import open_centre_database

__all__ = ["open_centre_database"]
