"""Hostile and clumsy manifest files given to `carec-edge manifests import`: each bad line is one
reject naming its file, line and reason, the good lines around it are stored, nothing ends in a
traceback, and memory stays bounded whatever the file holds."""

from __future__ import annotations

import json
import os
import select
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from edge.store.database import DATABASE_NAME
from tests.fixtures.records import record
from tests.hostile.cli import DEADLINE_S, MEMORY_BOUND_MB, carec_edge


def stored_refs(data_dir: Path) -> set[str]:
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        return {ref for (ref,) in db.execute("SELECT ref FROM manifests")}


def line(**changes: object) -> bytes:
    return json.dumps(record(**changes)).encode()


def test_a_version_beyond_64_bits_is_one_reject_among_twelve_thousand_stored(
    tmp_path: Path,
) -> None:
    lines = [line(ref=f"R{i}") for i in range(12_000)]
    lines[6000] = line(ref="HUGE", version=2**63)
    file = tmp_path / "day.jsonl"
    file.write_bytes(b"\n".join(lines) + b"\n")
    run = carec_edge("manifests", "import", str(file), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert run.status == 1
    assert run.out.startswith("imported 11999, rejected 1 ")
    assert f"{file}:6001: version: Input should be less than or equal to" in run.err
    refs = stored_refs(tmp_path / "data")
    assert len(refs) == 11_999
    assert "HUGE" not in refs


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"version": -(2**63) - 1}, "version"),
        ({"version": 10**30}, "version"),
        ({"goods": [{"seq": 2**64, "description": "x", "hs_code": "870899",
                     "gross_mass_kg": 1}]}, "goods[0].seq"),
        ({"goods": [{"seq": 1, "description": "x", "hs_code": "870899", "packages": 2**63,
                     "gross_mass_kg": 1}]}, "goods[0].packages"),
    ],
)  # fmt: skip
def test_integers_too_large_for_the_store_are_rejected_with_their_field(
    tmp_path: Path, changes: dict[str, object], field: str
) -> None:
    file = tmp_path / "day.jsonl"
    file.write_bytes(b"\n".join([line(ref="GOOD1"), line(ref="BAD", **changes), line(ref="GOOD2")]))
    run = carec_edge("manifests", "import", str(file), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert f"{file}:2: {field}: " in run.err
    assert stored_refs(tmp_path / "data") == {"GOOD1", "GOOD2"}


def test_a_duplicate_key_is_refused_not_won_by_the_last(tmp_path: Path) -> None:
    good = line(ref="GOOD")
    second_ref = line(ref="FIRST")[:-1] + b', "ref": "SECOND"}'
    second_plate = line(ref="PLATE").replace(
        b'"nationality": "KZ"}', b'"nationality": "KZ", "plate": "999 ZZZ 99"}', 1
    )
    file = tmp_path / "day.jsonl"
    file.write_bytes(b"\n".join([second_ref, good, second_plate]) + b"\n")
    run = carec_edge("manifests", "import", str(file), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert f"{file}:1: not JSON: duplicate key 'ref'" in run.err
    assert f"{file}:3: not JSON: duplicate key 'plate'" in run.err
    assert stored_refs(tmp_path / "data") == {"GOOD"}


def test_a_deeply_nested_line_is_refused(tmp_path: Path) -> None:
    file = tmp_path / "day.jsonl"
    file.write_bytes(b"[" * 100_000 + b"]" * 100_000 + b"\n" + line(ref="GOOD") + b"\n")
    run = carec_edge("manifests", "import", str(file), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert f"{file}:1: nested 100000 levels deep; at most 32 allowed" in run.err
    assert stored_refs(tmp_path / "data") == {"GOOD"}


def test_a_gigabyte_without_a_newline_is_skipped_in_bounded_memory(tmp_path: Path) -> None:
    file = tmp_path / "day.jsonl"
    with file.open("wb") as stream:
        stream.write(line(ref="BEFORE") + b"\n")
        stream.seek(1 << 30, os.SEEK_CUR)  # a hole: a gigabyte of NULs that takes no disk
        stream.write(b"\n" + line(ref="AFTER") + b"\n")
    run = carec_edge("manifests", "import", str(file), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert f"{file}:2: line is {(1 << 30) + 1} bytes, more than 1048576" in run.err
    assert stored_refs(tmp_path / "data") == {"BEFORE", "AFTER"}
    assert run.peak_mb < MEMORY_BOUND_MB


def test_thousands_of_long_lines_are_read_in_bounded_memory(tmp_path: Path) -> None:
    long = b'{"ref": "' + b"A" * 200_000 + b'"}'  # 200 KB: JSON, but no record
    file = tmp_path / "day.jsonl"
    with file.open("wb") as stream:
        for i in range(2500):
            stream.write((line(ref=f"R{i}") if i % 100 == 0 else long) + b"\n")
    run = carec_edge("manifests", "import", str(file), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert run.out.startswith("imported 25, rejected 2475 ")
    assert stored_refs(tmp_path / "data") == {f"R{i}" for i in range(0, 2500, 100)}
    assert run.peak_mb < MEMORY_BOUND_MB


def test_an_endless_device_is_no_manifest_file(tmp_path: Path) -> None:
    good = tmp_path / "good.jsonl"
    good.write_bytes(line(ref="GOOD") + b"\n")
    run = carec_edge("manifests", "import", "/dev/zero", str(good), data_dir=tmp_path / "data")
    run.assert_clean_failure()
    assert "/dev/zero:0: cannot read: not a regular file" in run.err
    assert stored_refs(tmp_path / "data") == {"GOOD"}
    assert run.peak_mb < MEMORY_BOUND_MB


def _children(pid: int) -> set[int]:
    found: set[int] = set()
    for task in Path(f"/proc/{pid}/task").iterdir():
        found |= {int(child) for child in (task / "children").read_text().split()}
    return found


def _wait_gone(pid: int, deadline_s: float) -> bool:
    """Whether process `pid` (not our child) ended within the deadline: a pidfd turns readable
    when it does."""
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError:
        return True
    try:
        readable, _, _ = select.select([pidfd], [], [], deadline_s)
        return bool(readable)
    finally:
        os.close(pidfd)


def test_sigterm_during_a_large_import_leaves_no_worker_behind(tmp_path: Path) -> None:
    fifo = tmp_path / "feed.jsonl"
    os.mkfifo(fifo)
    process = subprocess.Popen(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(tmp_path / "data"),
         "manifests", "import", str(fifo)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    workers: set[int] = set()
    try:
        with fifo.open("wb") as feed:  # opens once the import opens the other end
            # Three chunks and more: once the import has read past the second (the pipe
            # holds 64 KB), it handed two chunks to the pool, whose two workers now run.
            for i in range(3 * 5000 + 200):
                feed.write(line(ref=f"R{i}") + b"\n")
            feed.flush()
            workers = _children(process.pid)
            if (os.cpu_count() or 1) > 1:  # one core: the import runs without a pool
                assert len(workers) >= 2, f"expected the pool's workers, found {workers}"
            process.send_signal(signal.SIGTERM)
            status = process.wait(timeout=DEADLINE_S)
        stuck = {pid for pid in workers if not _wait_gone(pid, DEADLINE_S)}
        assert not stuck, f"workers {stuck} outlived the import"
        stderr = process.stderr.read().decode()  # type: ignore[union-attr]
        assert "Traceback" not in stderr
        assert "import interrupted; the records stored so far stay" in stderr
        assert status == 128 + signal.SIGTERM
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
