"""A whole exported log, checked by an auditor from the files alone: the tree rebuilt from the
entries must give every signed checkpoint's root. An edited, dropped or reordered entry is
named by its index; a rewritten history is caught at the first checkpoint it contradicts."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from sync.tlog.export import CompactRange, export_log, verify_export
from sync.tlog.merkle import MemoryHashStore, leaf_hash
from sync.tlog.store import TransparencyLog
from tests.sync.tlog.logs import T0, fill, make_log


@pytest.fixture
def log(tmp_path: Path) -> TransparencyLog:
    log = make_log(tmp_path / "box")
    for n, (start, count) in enumerate([(0, 100), (100, 156), (256, 1), (257, 300)]):
        fill(log, start, count)
        log.checkpoint(T0 + dt.timedelta(minutes=5 * n))
    return log


def lines(directory: Path) -> list[str]:
    return (directory / "entries.jsonl").read_text().splitlines()


def rewrite(directory: Path, entries: list[str]) -> None:
    (directory / "entries.jsonl").write_text("".join(f"{e}\n" for e in entries))


def test_an_exported_log_verifies_every_checkpoint(log: TransparencyLog, tmp_path: Path) -> None:
    manifest = export_log(log, tmp_path / "export")
    assert manifest["size"] == 557
    report = verify_export(tmp_path / "export", log.vkey)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints_checked) == (557, 4)
    assert len(lines(tmp_path / "export")) == 557


def test_an_edited_entry_is_named_by_its_index(log: TransparencyLog, tmp_path: Path) -> None:
    export_log(log, tmp_path / "export")
    entries = lines(tmp_path / "export")
    entries[123] = entries[123].replace("KG-TORUGART-1", "KG-TORUGART-2")
    rewrite(tmp_path / "export", entries)
    report = verify_export(tmp_path / "export", log.vkey)
    assert "entry 123 (line 124): its fields do not hash to its leaf hash" in report.problems[0]
    assert "checkpoint 256: its root is not the tree" in report.problems[1]
    assert "[100, 256)" in report.problems[1]


def test_an_entry_edited_with_its_leaf_hash_is_caught_by_the_next_checkpoint(
    log: TransparencyLog, tmp_path: Path
) -> None:
    export_log(log, tmp_path / "export")
    entries = lines(tmp_path / "export")
    entry = json.loads(entries[300])
    entry["party"] = "KG-TORUGART-2"
    del entry["leaf_hash"]
    entries[300] = json.dumps(entry)
    rewrite(tmp_path / "export", entries)
    report = verify_export(tmp_path / "export", log.vkey)
    assert report.problems == [
        "checkpoint 557: its root is not the tree of the entries exported; an entry with index "
        "in [257, 557) was altered, dropped or reordered"
    ]


def test_a_dropped_entry_is_named(log: TransparencyLog, tmp_path: Path) -> None:
    export_log(log, tmp_path / "export")
    entries = lines(tmp_path / "export")
    del entries[42]
    rewrite(tmp_path / "export", entries)
    report = verify_export(tmp_path / "export", log.vkey)
    assert report.problems[0] == "entry 42: missing (line 43 holds entry 43)"
    assert not report.ok


def test_reordered_entries_are_named(log: TransparencyLog, tmp_path: Path) -> None:
    export_log(log, tmp_path / "export")
    entries = lines(tmp_path / "export")
    entries[7], entries[8] = entries[8], entries[7]
    rewrite(tmp_path / "export", entries)
    report = verify_export(tmp_path / "export", log.vkey)
    assert report.problems[:2] == [
        "entry 7: missing (line 8 holds entry 8)",
        "entry 8: out of order (line 9 holds entry 7)",
    ]
    assert "checkpoint 100" in report.problems[2]


def test_a_truncated_export_and_a_forged_checkpoint_are_named(
    log: TransparencyLog, tmp_path: Path
) -> None:
    export_log(log, tmp_path / "export")
    rewrite(tmp_path / "export", lines(tmp_path / "export")[:300])
    note = tmp_path / "export" / "checkpoints" / "256.note"
    note.write_text(note.read_text().replace("\n256\n", "\n255\n"))
    report = verify_export(tmp_path / "export", log.vkey)
    assert any("checkpoint file 256.note" in p and "does not verify" in p for p in report.problems)
    assert "checkpoint 557: the export holds only 300 entries" in report.problems
    assert not verify_export(tmp_path / "export", make_log(tmp_path / "x").vkey).ok


def test_an_export_after_retention_starts_from_the_tree_before_its_first_entry(
    log: TransparencyLog, tmp_path: Path
) -> None:
    log.purge(T0 + dt.timedelta(minutes=12))  # every entry is older: all but the tiles go
    fill(log, 1000, 50)
    log.checkpoint(T0 + dt.timedelta(minutes=20))
    manifest = export_log(log, tmp_path / "export")
    assert manifest["first_index"] == 557
    report = verify_export(tmp_path / "export", log.vkey)
    assert report.ok, report.problems
    assert report.checkpoints_checked == 2  # 557 (kept as the latest) and 607


def test_the_compact_range_gives_the_root_of_every_size() -> None:
    store, compact = MemoryHashStore(), CompactRange()
    for i in range(600):
        leaf = leaf_hash(b"%d" % i)
        store.append(leaf)
        compact.append(leaf)
        assert compact.root() == store.root()


@pytest.mark.parametrize("size", [0, 1, 2, 1000])
def test_the_self_asserted_key_is_reported(tmp_path: Path, size: int) -> None:
    log = make_log(tmp_path / "box", Ed25519PrivateKey.generate())
    fill(log, 0, size)
    log.checkpoint(T0)
    export_log(log, tmp_path / "export")
    report = verify_export(tmp_path / "export")
    assert report.ok, report.problems
    assert report.log_key_source == "self-asserted key"
    assert report.entries == size
