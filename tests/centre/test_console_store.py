"""The console's tables as migration 0002 creates them agree with `centre.store.schema`'s
definitions (columns, types, nullability, indexes), on SQLite and on PostgreSQL."""

from __future__ import annotations

from sqlalchemy import TypeDecorator, inspect

from centre.store.schema import console_audit, console_operators, console_sessions, partner_review
from tests.centre.conftest import Centre

CONSOLE_TABLES = (console_operators, console_sessions, console_audit, partner_review)


def test_migration_0002_creates_the_console_tables_as_the_schema_defines_them(
    centre: Centre,
) -> None:
    inspector = inspect(centre.engine)
    dialect = centre.engine.dialect
    for table in CONSOLE_TABLES:
        migrated = {c["name"]: c for c in inspector.get_columns(table.name)}
        assert list(migrated) == [c.name for c in table.columns], table.name
        for column in table.columns:
            found = migrated[column.name]
            assert found["nullable"] == column.nullable, f"{table.name}.{column.name}"
            kind = column.type
            if isinstance(kind, TypeDecorator):  # UtcTime: stored as its impl
                kind = kind.impl_instance
            expected = kind.compile(dialect=dialect)
            assert found["type"].compile(dialect=dialect) == expected, f"{table.name}.{column.name}"
        assert inspector.get_pk_constraint(table.name)["constrained_columns"] == [
            c.name for c in table.primary_key.columns
        ]
        indexes = {i["name"]: i["column_names"] for i in inspector.get_indexes(table.name)}
        for index in table.indexes:
            assert indexes.get(index.name) == [c.name for c in index.columns], index.name
