"""What every command needs: the config and the data directory, resolved once and lazily."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from drivers.registry import DeviceConfig, parse_devices
from edge.config import Config, load_config
from edge.store import open_database


@dataclass
class CliContext:
    config_path: Path | None
    data_dir_option: Path | None
    _engine: Engine | None = field(default=None, init=False)

    @staticmethod
    def path_arg(text: str) -> Path:
        if not text:
            raise argparse.ArgumentTypeError("empty path")
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
        if self._engine is None:
            self._engine = open_database(self.data_dir)
        return self._engine
