"""Opening the store: SQLite in WAL mode, durable commits, foreign keys, and migrations to head."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event

DATABASE_NAME = "carec-edge.sqlite3"
_MIGRATIONS = Path(__file__).parent / "migrations"


def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    # FULL: a commit that carries evidence is on disk before anyone is told it happened.
    cursor.execute("PRAGMA synchronous=FULL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def create_store_engine(path: Path) -> Engine:
    # The service writes from worker threads too; SQLAlchemy's pool keeps one connection to one
    # thread at a time, so sqlite3's same-thread check only gets in the way.
    # hide_parameters: an error's text never quotes a row (a reading's MRZ, a manifest's names).
    engine = create_engine(
        f"sqlite:///{path}", connect_args={"check_same_thread": False}, hide_parameters=True
    )
    event.listen(engine, "connect", _on_connect)
    return engine


def migrate(engine: Engine) -> None:
    from alembic import command  # a fifth of every command's start-up: only when opening
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(data_dir: Path) -> Engine:
    """The store under `data_dir`, created and migrated to the current schema."""
    data_dir.mkdir(parents=True, exist_ok=True)
    engine = create_store_engine(data_dir / DATABASE_NAME)
    migrate(engine)
    return engine
