"""Plate crops as JPEG files under the data directory, one folder a day, within a quota.

A plate reading keeps a reference to its crop (`2026-11-28/083000123456-1a2b3c4d.jpg`), not
the image: the crops show the officer the plate, the reading's text is the evidence. So crops
are the first thing the box lets go: past their age, beyond the quota (oldest first), and when
the disk runs short (`shed`). A reference whose file is gone reads as no crop.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import secrets
import shutil
import threading
from pathlib import Path

CROPS_DIR = "crops"
_DAY = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_REF = re.compile(r"^(\d{4}-\d{2}-\d{2})/(\d{12}-[0-9a-f]{8})\.jpg$")
# Over the quota, crops go until the store is this much of it, so that a full store does not
# list its oldest folder on every save.
_LOW_WATER = 0.95


def _allocated(stat: os.stat_result) -> int:
    return stat.st_blocks * 512  # what the file takes on disk, not its length


class CropStore:
    """The crop files under `directory`; thread-safe (the store thread and the disk check)."""

    def __init__(self, directory: Path, quota_bytes: int, max_age: dt.timedelta) -> None:
        self.directory = directory
        self.quota_bytes = quota_bytes
        self.max_age = max_age
        self.evicted = 0  # crops removed to stay within the quota or to free the disk
        self._lock = threading.Lock()
        self._size: int | None = None  # bytes on disk, counted once then kept up to date

    def save(self, jpeg: bytes, at: dt.datetime) -> str:
        """Store a crop taken at `at` (UTC); its reference."""
        at = at.astimezone(dt.UTC)
        day = at.strftime("%Y-%m-%d")
        name = f"{at.strftime('%H%M%S%f')}-{secrets.token_hex(4)}.jpg"
        folder = self.directory / day
        with self._lock:
            size = self._counted()
            folder.mkdir(parents=True, exist_ok=True)
            path = folder / name
            partial = folder / f".{name}.part"
            partial.write_bytes(jpeg)
            os.replace(partial, path)  # a reader never sees half a crop
            self._size = size + _allocated(path.stat())
            if self._size > self.quota_bytes:
                self._evict_oldest(self._size - int(self.quota_bytes * _LOW_WATER))
        return f"{day}/{name}"

    def load(self, ref: str) -> bytes | None:
        """The crop `ref` names; None when it is gone (aged out, over quota, shed) or malformed."""
        if _REF.match(ref) is None:
            return None
        try:
            return (self.directory / ref).read_bytes()
        except FileNotFoundError:
            return None

    def size(self) -> int:
        """Bytes the crops take on disk."""
        with self._lock:
            return self._counted()

    def purge(self, now: dt.datetime) -> int:
        """Remove the crops of days older than `max_age`; how many files."""
        oldest_kept = (now.astimezone(dt.UTC) - self.max_age).strftime("%Y-%m-%d")
        removed = 0
        with self._lock:
            size = self._counted()
            for day in self._days():
                if day.name >= oldest_kept:
                    break
                count, freed = _remove_folder(day)
                removed += count
                size -= freed
            self._size = max(0, size)
        return removed

    def shed(self, bytes_wanted: int) -> int:
        """Remove crops, oldest first, until `bytes_wanted` are freed or none are left; the
        bytes freed. For a disk running short."""
        with self._lock:
            self._counted()
            return self._evict_oldest(bytes_wanted)

    def _evict_oldest(self, bytes_wanted: int) -> int:
        freed = 0
        for day in self._days():
            if freed >= bytes_wanted:
                break
            files = sorted((f for f in os.scandir(day) if f.is_file()), key=lambda f: f.name)
            for entry in files:
                if freed >= bytes_wanted:
                    break
                freed += _allocated(entry.stat())
                os.unlink(entry.path)
                self.evicted += 1
            if not any(os.scandir(day)):
                day.rmdir()
        self._size = max(0, (self._size or 0) - freed)
        return freed

    def _days(self) -> list[Path]:
        if not self.directory.is_dir():
            return []
        return sorted(p for p in self.directory.iterdir() if p.is_dir() and _DAY.match(p.name))

    def _counted(self) -> int:
        if self._size is None:
            self._size = sum(
                _allocated(f.stat()) for day in self._days() for f in os.scandir(day) if f.is_file()
            )
        return self._size


def _remove_folder(folder: Path) -> tuple[int, int]:
    files = [f for f in os.scandir(folder) if f.is_file()]
    freed = sum(_allocated(f.stat()) for f in files)
    shutil.rmtree(folder)
    return len(files), freed
