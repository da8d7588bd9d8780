"""A TUF repository on a centre and a box that reads it, for the update tests: the repository
signs with its real keys, the box keeps its trusted metadata in its own directory, and the
tests tamper with the served files as an attacker on the path (or on a USB stick) would."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from centre.updates.tuf_repository import TufRepository
from edge.timeutil import system_utcnow
from provisioning.update.tuf_client import (
    BoxTrust,
    DirectorySource,
    UpdateSource,
    VerifiedTarget,
    fetch_target,
)


def bundle(directory: Path, version: str, size: int = 64 * 1024) -> Path:
    path = directory / f"carec-edge-{version}.raucb"
    directory.mkdir(parents=True, exist_ok=True)
    path.write_bytes(os.urandom(size))
    return path


@dataclass
class Box:
    trust: BoxTrust
    work_dir: Path

    @classmethod
    def make(cls, root: Path, repository: TufRepository, running: str = "1.0") -> Box:
        """A box whose image carries the repository's current root and runs `running`."""
        image = root / "image"
        image.mkdir(parents=True)
        shutil.copyfile(repository.metadata_dir / "root.json", image / "root.json")
        (image / "os-release").write_text(f'ID=debian\nIMAGE_VERSION="{running}"\n')
        trust = BoxTrust(root / "store" / "tuf" / "metadata", image / "root.json",
                         image / "os-release")  # fmt: skip
        return cls(trust, root / "downloads")

    def runs(self, version: str) -> None:
        self.trust.os_release.write_text(f"IMAGE_VERSION={version}\n")

    def fetch(self, source: UpdateSource, target: str, **options: Any) -> VerifiedTarget:
        return fetch_target(source, target, self.work_dir, trust=self.trust, **options)


def repository_at(directory: Path, keys: Path, *, clock: Callable[[], dt.datetime] = system_utcnow
                  ) -> TufRepository:  # fmt: skip
    return TufRepository(directory, keys, clock=clock)


def usb(repository: TufRepository, stick: Path, names: list[str] | None = None) -> DirectorySource:
    """A USB stick as `centre updates export-usb` writes it."""
    repository.export(stick, names)
    return DirectorySource(stick)
