"""One planned month at two posts, fed through the centre's real inbox (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioning.identity.fleet import Fleet, make_fleet
from tests.centre.analytics.scenario import NODES, Scenario, build, clocked, first_of_next_month


@pytest.fixture(scope="session")
def analytics_fleet(tmp_path_factory: pytest.TempPathFactory) -> Fleet:
    return make_fleet(tmp_path_factory.mktemp("analytics-fleet"), NODES)


@pytest.fixture
def scenario(database_url: str, analytics_fleet: Fleet, tmp_path: Path) -> Iterator[Scenario]:
    with clocked(first_of_next_month()) as clock:
        built = build(analytics_fleet, database_url, tmp_path, clock)
        yield built
