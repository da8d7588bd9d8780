from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine

from edge.manifest_cache import ManifestCache
from edge.store import open_database
from tests.fixtures.postgres import PostgresServer, postgres_server


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(tmp_path / "data")


@pytest.fixture
def cache(engine: Engine) -> ManifestCache:
    return ManifestCache(engine)


@pytest.fixture(scope="session")
def postgres() -> Iterator[PostgresServer]:
    """One real PostgreSQL server for the session (tests/fixtures/postgres.py); each test that
    needs a database makes its own with `postgres.create_database()`."""
    with postgres_server() as server:
        yield server


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database, once on a SQLite file and once on the real PostgreSQL server: the
    storage tests of the centre (and of sync on the centre) run against both."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'centre.sqlite3'}"
    server: PostgresServer = request.getfixturevalue("postgres")
    return server.create_database()
