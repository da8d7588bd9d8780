"""A store error's text never carries the row it refused: no personal data reaches a log line."""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, insert
from sqlalchemy.exc import IntegrityError

from edge.config import RetentionConfig
from edge.crops import CropStore
from edge.logs import error_first_line
from edge.service import upkeep
from edge.store import open_database
from edge.store.schema import manifests

SECRET = "IVANOVA<<SECRET<NAME"
WHEN = dt.datetime(2032, 6, 1, 12, 0, tzinfo=dt.UTC)


def _insert_twice(engine: Engine) -> None:
    row = {
        "issuer": "KZ",
        "ref": "REF-1",
        "version": 1,
        "expected_arrival": WHEN,
        "driver_document": "N1234567",
        "record": f'{{"driver": "{SECRET}"}}',
        "stored_at": WHEN,
    }
    with engine.begin() as conn:
        conn.execute(insert(manifests).values(**row))
        conn.execute(insert(manifests).values(**row))  # the unique (ref, issuer) refuses it


def test_a_refused_insert_does_not_quote_its_parameters(tmp_path: Path) -> None:
    engine = open_database(tmp_path)
    with pytest.raises(IntegrityError) as caught:
        _insert_twice(engine)
    assert "UNIQUE constraint failed" in str(caught.value)
    assert SECRET not in str(caught.value)
    assert SECRET not in error_first_line(caught.value)
    assert "\n" not in error_first_line(caught.value)


def test_a_failing_store_job_logs_no_parameter_values(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    engine = open_database(tmp_path)
    retention = RetentionConfig()

    async def failing_in_store(fn: Callable[..., Any], *args: Any) -> Any:
        _insert_twice(engine)  # the job's store work fails with a constraint error

    async def one_pass() -> None:
        job = asyncio.ensure_future(
            upkeep.retention_job(
                failing_in_store,
                lambda: engine,
                CropStore(tmp_path / "crops", 1 << 20, dt.timedelta(days=1)),
                retention,
                3600,
            )
        )
        while not any(r.getMessage() == "retention.failed" for r in caplog.records):
            await asyncio.sleep(0)  # yields to the job until it has logged its failure
        job.cancel()

    with caplog.at_level(logging.ERROR, logger="edge"):
        asyncio.run(asyncio.wait_for(one_pass(), timeout=60))
    [record] = [r for r in caplog.records if r.getMessage() == "retention.failed"]
    error = str(record.__dict__["error"])
    assert "UNIQUE constraint failed" in error
    assert SECRET not in error
    assert "N1234567" not in error
