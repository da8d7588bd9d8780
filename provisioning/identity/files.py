"""Writing key and certificate files: atomically, with the mode asked for, no clobber by default."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from provisioning.identity.errors import AlreadyExistsError

PRIVATE = 0o600
PUBLIC = 0o644


def write_atomically(path: Path, data: bytes, *, mode: int, overwrite: bool = False) -> Path:
    """Write `data` to `path` so that readers see either nothing or the whole file.

    The file gets exactly `mode` whatever the umask. Without `overwrite`, an existing `path` is
    left untouched and AlreadyExistsError names it (the check and the write are one atomic link,
    so two writers cannot both win).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    if not overwrite and path.exists():
        raise AlreadyExistsError(f"{path} exists; refusing to overwrite it")
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.fchmod(descriptor, mode)
        with os.fdopen(descriptor, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        if overwrite:
            os.replace(temporary, path)
        else:
            try:
                os.link(temporary, path)
            except FileExistsError:
                raise AlreadyExistsError(f"{path} exists; refusing to overwrite it") from None
            os.unlink(temporary)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
    _fsync_directory(path.parent)
    return path


def _fsync_directory(directory: Path) -> None:
    descriptor = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)
