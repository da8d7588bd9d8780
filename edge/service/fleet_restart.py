"""Between two runs of the service (`edge.service.run_service`): when the file a twin change
wrote does not load, or the service fails within the change's grace period, the file before
is put back and the rollback recorded (sent to the centre once sync is up again)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sqlalchemy.exc import SQLAlchemyError

from edge.store import open_database
from provisioning.fleet.twin import roll_back_unloadable


def rolled_back_after(data_dir: Path, config_path: Path, problems: Sequence[str]) -> bool:
    """True when a twin change was being applied and is now rolled back (its file before in
    place); False when there was none, or the store cannot be opened."""
    try:
        engine = open_database(data_dir)
    except (OSError, SQLAlchemyError):
        return False
    try:
        return roll_back_unloadable(engine, config_path, problems)
    except (OSError, SQLAlchemyError):
        return False
    finally:
        engine.dispose()
