"""What every command needs: the config and the data directory, resolved once and lazily."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.exc import SQLAlchemyError

from drivers.registry import DeviceConfig, parse_devices
from edge.cli.preflight import DataDirError, data_dir_problem
from edge.config import Config, load_config
from edge.store import open_database


@dataclass
class CliContext:
    config_path: Path | None
    data_dir_option: Path | None
    _engine: Engine | None = field(default=None, init=False)

    @staticmethod
    def path_arg(text: str) -> Path:
        if not text or "\0" in text:
            raise argparse.ArgumentTypeError("a path must be non-empty and hold no NUL character")
        return Path(text)

    @cached_property
    def config(self) -> Config:
        return load_config(self.config_path)

    @cached_property
    def devices(self) -> list[DeviceConfig]:
        """The config's devices, each checked against its kind (raises DeviceConfigError)."""
        return parse_devices(self.config.devices)

    @property
    def data_dir(self) -> Path:
        return self.data_dir_option or self.config.store.data_dir

    def engine(self) -> Engine:
        """The store, or DataDirError naming the directory and why it cannot hold it."""
        if self._engine is None:
            if problem := data_dir_problem(self.data_dir):
                raise DataDirError(problem)
            try:
                self._engine = open_database(self.data_dir)
            except (OSError, SQLAlchemyError) as error:
                reason = getattr(error, "orig", None) or getattr(error, "strerror", None) or error
                raise DataDirError(f"{self.data_dir}: cannot open the store: {reason}") from None
        return self._engine
