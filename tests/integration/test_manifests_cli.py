"""`carec-edge manifests import|purge|show` as an operator runs them, on a real SQLite store."""

from __future__ import annotations

import datetime as dt
import json
import sqlite3
import subprocess
import sys
from pathlib import Path

from edge.store.database import DATABASE_NAME
from edge.timeutil import utcnow
from tests.fixtures.records import record, write_jsonl


def carec_edge(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge.cli", "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip


def stored(data_dir: Path) -> dict[str, int]:
    with sqlite3.connect(data_dir / DATABASE_NAME) as db:
        return dict(db.execute("SELECT ref, version FROM manifests").fetchall())


def test_import_stores_valid_records_and_names_each_reject(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file = write_jsonl(
        tmp_path / "day.jsonl",
        [
            record(ref="A1"),
            '{"ref": "broken"',
            record(ref="A2", goods=[]),
            record(ref="A3", transport={"plate": "А 777 ВС 02", "nationality": "KZ"}),
        ],
    )
    result = carec_edge(data, "manifests", "import", str(file))
    assert result.returncode == 1
    assert result.stdout.startswith("imported 2, rejected 2")
    assert f"{file}:2: not JSON" in result.stderr
    assert f"{file}:3: goods: empty" in result.stderr
    assert stored(data) == {"A1": 1, "A3": 1}


def test_clean_import_exits_zero_and_reimport_is_idempotent(tmp_path: Path) -> None:
    data = tmp_path / "data"
    file = write_jsonl(tmp_path / "day.jsonl", [record(ref=f"R{i}") for i in range(50)])
    first = carec_edge(data, "manifests", "import", str(file))
    second = carec_edge(data, "manifests", "import", str(file))
    assert (first.returncode, second.returncode) == (0, 0)
    assert "new 50" in first.stdout
    assert "new 0, replaced 0, unchanged or older 50" in second.stdout
    assert len(stored(data)) == 50


def test_higher_version_replaces_and_lower_version_is_ignored(tmp_path: Path) -> None:
    data = tmp_path / "data"
    v2 = record(version=2, transport={"plate": "111 AAA 01", "nationality": "KZ"})
    carec_edge(data, "manifests", "import", str(write_jsonl(tmp_path / "v2.jsonl", [v2])))
    v1 = record(version=1)
    v3 = record(version=3, transport={"plate": "333 CCC 03", "nationality": "KZ"})
    carec_edge(data, "manifests", "import", str(write_jsonl(tmp_path / "v1.jsonl", [v1])))
    assert stored(data) == {v2["ref"]: 2}
    carec_edge(data, "manifests", "import", str(write_jsonl(tmp_path / "v3.jsonl", [v3])))
    assert stored(data) == {v3["ref"]: 3}
    shown = carec_edge(data, "manifests", "show", v3["ref"])
    assert json.loads(shown.stdout)["transport"]["plate"] == "333 CCC 03"
    # The replaced version's plate no longer matches; the new one does.
    old = carec_edge(data, "match", "--plate", "111AAA01", "--json")
    new = carec_edge(data, "match", "--plate", "333CCC03", "--json")
    assert json.loads(old.stdout)["candidates"] == []
    assert [c["ref"] for c in json.loads(new.stdout)["candidates"]] == [v3["ref"]]


def test_purge_removes_records_past_retention(tmp_path: Path) -> None:
    data = tmp_path / "data"
    now = utcnow()
    old = (now - dt.timedelta(days=40)).strftime("%Y-%m-%dT%H:%M:%SZ")
    fresh = (now - dt.timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    file = write_jsonl(
        tmp_path / "mixed.jsonl",
        [record(ref="OLD", expected_arrival=old), record(ref="NEW", expected_arrival=fresh)],
    )
    carec_edge(data, "manifests", "import", str(file))
    result = carec_edge(data, "manifests", "purge", "--days", "30")
    assert result.returncode == 0
    assert result.stdout.startswith("purged 1 records")
    assert stored(data) == {"NEW": 1}


def test_unreadable_file_is_a_reject_not_a_crash(tmp_path: Path) -> None:
    result = carec_edge(tmp_path / "data", "manifests", "import", str(tmp_path / "missing.jsonl"))
    assert result.returncode == 1
    assert "missing.jsonl:0: cannot read" in result.stderr
    assert result.stdout.startswith("imported 0, rejected 1")


def test_match_by_a_scanned_transit_document(tmp_path: Path) -> None:
    data = tmp_path / "data"
    carec_edge(
        data, "manifests", "import", str(write_jsonl(tmp_path / "r.jsonl", [record(ref="R1")]))
    )
    result = carec_edge(data, "match", "--reference", "XA 81234567", "--json")
    assert [c["ref"] for c in json.loads(result.stdout)["candidates"]] == ["R1"]
