"""Opening the centre's database from a URL: SQLite (a file, WAL, durable commits) or
PostgreSQL (psycopg 3), migrated to head by the centre's own alembic chain."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event
from sqlalchemy.engine import make_url

_MIGRATIONS = Path(__file__).parent / "migrations"


class DatabaseUrlError(ValueError):
    """A database URL the centre cannot use, with the fix."""


def _sqlite_pragmas(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=FULL")  # evidence is on disk before it is acknowledged
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_centre_engine(url: str) -> Engine:
    """An engine for `url`: `sqlite:///path` or `postgresql+psycopg://...` (`postgresql://`
    is taken to mean psycopg 3). hide_parameters: an error never quotes a record's names."""
    try:
        parsed = make_url(url)
    except Exception:
        raise DatabaseUrlError(
            "database: not a URL; use sqlite:////var/lib/carec-centre/centre.sqlite3 or "
            "postgresql+psycopg://user@host/dbname"
        ) from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        if not parsed.database or parsed.database == ":memory:":
            raise DatabaseUrlError("database: a SQLite URL needs a file, sqlite:///path")
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed, connect_args={"check_same_thread": False}, hide_parameters=True
        )
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    if backend == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
        # pool_pre_ping: a server restarted under a running centre costs one retry, not errors
        return create_engine(parsed, hide_parameters=True, pool_pre_ping=True, pool_size=10)
    raise DatabaseUrlError(f"database: {backend!r} is not supported; use sqlite or postgresql")


def migrate(engine: Engine) -> None:
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            # Instances starting together: one migrates, the others wait for it.
            connection.exec_driver_sql("SELECT pg_advisory_xact_lock(7207201)")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_centre_database(url: str) -> Engine:
    """The centre's database at `url`, created and migrated to the current schema."""
    engine = create_centre_engine(url)
    migrate(engine)
    return engine
