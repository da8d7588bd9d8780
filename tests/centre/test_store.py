"""The centre's database: its migrations make exactly the schema its code declares, on SQLite
and on PostgreSQL, and opening it again (another instance starting) changes nothing."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import MetaData, inspect

from centre.store import open_centre_database, schema
from centre.store.sync_tables import SYNC_TABLE_NAMES
from edge.store import schema as edge_schema
from tests.unit.test_store import not_for


def declared() -> MetaData:
    """The centre's tables and the sync tables it shares with the box, as the code has them."""
    both = MetaData()
    for table in schema.metadata.tables.values():
        table.to_metadata(both)
    for name in SYNC_TABLE_NAMES:
        edge_schema.metadata.tables[name].to_metadata(both)
    return both


def test_the_migrated_database_is_the_schema_the_code_declares(database_url: str) -> None:
    engine = open_centre_database(database_url)
    with engine.connect() as conn:
        context = MigrationContext.configure(
            conn, opts={"compare_type": False, "version_table": "centre_alembic_version"}
        )
        expected = declared()
        differences = [
            d for d in compare_metadata(context, expected)
            if not (d[0] == "remove_table" and d[1].name == "centre_alembic_version")
            and not not_for(d, engine.dialect.name, edge_schema.metadata)
        ]  # fmt: skip
    assert differences == []


def test_opening_a_migrated_database_again_changes_nothing(database_url: str) -> None:
    first = open_centre_database(database_url)
    tables = sorted(inspect(first).get_table_names())
    first.dispose()
    again = open_centre_database(database_url)
    assert sorted(inspect(again).get_table_names()) == tables
