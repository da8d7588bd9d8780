"""The store: migrations produce exactly the schema the code declares, in WAL mode."""

from __future__ import annotations

from pathlib import Path

from alembic.autogenerate import compare_metadata
from alembic.config import Config as AlembicConfig
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, MetaData, text

from edge.store import open_database
from edge.store.database import _MIGRATIONS
from edge.store.schema import metadata


def test_migrations_build_the_declared_schema(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert [d for d in diff if not not_for(d, "sqlite", metadata)] == []


def not_for(difference: object, dialect: str, declared: MetaData) -> bool:
    """Whether `difference` is an index declared for another database only (`ddl_if`), e.g.
    a centre's PostgreSQL queue index on the shared outbox table, never in the box's SQLite."""
    if not (isinstance(difference, tuple) and difference[0] == "add_index"):
        return False
    elsewhere = {
        index.name
        for table in declared.tables.values()
        for index in table.indexes
        if index._ddl_if is not None and index._ddl_if.dialect not in (None, dialect)
    }
    return difference[1].name in elsewhere


def test_database_is_in_wal_mode_with_full_sync(engine: Engine) -> None:
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert conn.execute(text("PRAGMA synchronous")).scalar() == 2  # FULL
        assert conn.execute(text("PRAGMA foreign_keys")).scalar() == 1


def test_the_migrations_form_one_chain(engine: Engine) -> None:
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    script = ScriptDirectory.from_config(config)
    assert len(script.get_heads()) == 1, f"more than one head: {script.get_heads()}"
    revisions = list(script.walk_revisions())
    assert [r.revision for r in reversed(revisions)] == [
        f"{n:04d}" for n in range(1, len(revisions) + 1)
    ], "revisions are numbered in order, each revising the one before"


def test_opening_twice_is_harmless(tmp_path: Path) -> None:
    open_database(tmp_path).dispose()
    engine = open_database(tmp_path)
    config = AlembicConfig()
    config.set_main_option("script_location", str(_MIGRATIONS))
    head = ScriptDirectory.from_config(config).get_current_head()
    with engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head
