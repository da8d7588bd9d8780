from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from edge.manifest_cache import ManifestCache
from edge.store import open_database


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    return open_database(tmp_path / "data")


@pytest.fixture
def cache(engine: Engine) -> ManifestCache:
    return ManifestCache(engine)
