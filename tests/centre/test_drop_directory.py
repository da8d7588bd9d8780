"""The drop directory: a CIS drops files in incoming/, each in JSON Lines, CUSCAR or NCTS-style
XML; each is taken whole, moved to done/ (every record taken) or failed/ (something refused,
or the file unreadable) with a report beside it; a half-written file waits, and the same file
twice is not applied twice. On SQLite and on PostgreSQL."""

from __future__ import annotations

import json
import random
from pathlib import Path
from typing import Any

import pytest

from centre.drop_directory import DropDirectory
from centre.formats.cuscar import write_cuscar
from centre.formats.ncts_xml import write_ncts_xml
from edge.manifest import Manifest
from edge.synthetic import generate_day
from edge.timeutil import utcnow
from tests.centre.conftest import NURZHOLY, Centre
from tests.fixtures.records import record, write_jsonl

FIXTURES = Path(__file__).parents[1] / "fixtures" / "cis"


@pytest.fixture
def drop(centre: Centre, tmp_path: Path) -> DropDirectory:
    return DropDirectory(tmp_path / "drop", centre.desk, "KZ")


def report(folder: Path, name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((folder / f"{name}.report.json").read_text())
    return data


def day(count: int, seed: int = 14) -> list[Manifest]:
    return generate_day(random.Random(seed), utcnow().date(), count)


def test_a_good_file_of_each_format_is_taken_and_moved_to_done_with_its_report(
    drop: DropDirectory, centre: Centre
) -> None:
    records = day(30)
    (drop.incoming / "day.jsonl").write_text("".join(r.to_json() + "\n" for r in records[:10]))
    (drop.incoming / "day.edi").write_bytes(write_cuscar(records[10:20], "KZCIS", "KZCENTRE"))
    (drop.incoming / "day.xml").write_bytes(write_ncts_xml(records[20:]))
    reports = {r.name: r for r in drop.poll()}
    assert {name: (r.outcome, r.records) for name, r in reports.items()} == {
        "day.edi": ("done", 10), "day.jsonl": ("done", 10), "day.xml": ("done", 10),
    }  # fmt: skip
    for name in reports:
        assert (drop.done / name).exists()
        assert report(drop.done, name)["outcomes"] == {"accepted": 10}
    assert list(drop.incoming.iterdir()) == []
    for stored in records:
        got = centre.desk.get(stored.issuer, stored.ref)
        assert got is not None
        assert got.record == stored


def test_the_sample_files_written_from_the_specifications_are_taken(
    drop: DropDirectory, centre: Centre
) -> None:
    for sample in ("sample.cuscar.edi", "sample.ncts.xml"):
        (drop.incoming / sample).write_bytes((FIXTURES / sample).read_bytes())
    reports = drop.poll()
    assert [(r.name, r.outcome) for r in reports] == [
        ("sample.cuscar.edi", "done"), ("sample.ncts.xml", "done"),
    ]  # fmt: skip
    assert all(r.records >= 2 for r in reports)
    assert centre.sent(NURZHOLY) or centre.sent()  # routed somewhere, or kept for later


def test_a_file_with_a_bad_record_goes_to_failed_listing_it_and_keeps_the_good_ones(
    drop: DropDirectory, centre: Centre
) -> None:
    write_jsonl(
        drop.incoming / "mixed.jsonl",
        [record(ref="GOOD-1"), record(ref="BAD-1", seals=[{"id": ""}]), "{not json"],
    )
    [taken] = drop.poll()
    assert (taken.outcome, taken.records) == ("failed", 3)
    written = report(drop.failed, "mixed.jsonl")
    assert written["outcomes"] == {"accepted": 1, "refused": 2}
    assert any("seals[0].id: empty" in reason for reason in written["refused"])
    assert any(":3:" in reason for reason in written["refused"])  # the line of the bad JSON
    assert centre.desk.get("KZ-CIS", "GOOD-1") is not None
    assert centre.desk.get("KZ-CIS", "BAD-1") is None


def test_another_countrys_records_are_refused_from_this_countrys_drop(
    drop: DropDirectory,
) -> None:
    write_jsonl(drop.incoming / "kg.jsonl", [record(issuer="KG-CIS")])
    [taken] = drop.poll()
    assert taken.outcome == "failed"
    assert "issuer KG-CIS is not of KZ" in report(drop.failed, "kg.jsonl")["refused"][0]


@pytest.mark.parametrize(
    ("name", "content", "error"),
    [
        ("broken.xml", b"<unclosed", "not well-formed"),
        ("broken.edi", b"not an interchange", "UNB"),
        ("notes.txt", b"hello", "unknown format '.txt'"),
    ],
)
def test_an_unreadable_file_goes_to_failed_with_the_reason_and_applies_nothing(
    drop: DropDirectory, centre: Centre, name: str, content: bytes, error: str
) -> None:
    (drop.incoming / name).write_bytes(content)
    [taken] = drop.poll()
    assert taken.outcome == "failed"
    assert error in (report(drop.failed, name)["error"] or "")
    assert centre.sent() == []


def test_a_file_still_being_written_waits_for_its_final_name(drop: DropDirectory) -> None:
    partial = drop.incoming / "day.jsonl.part"
    write_jsonl(partial, [record()])
    hidden = drop.incoming / ".day2.jsonl"
    write_jsonl(hidden, [record(ref="OTHER")])
    assert drop.poll() == []
    partial.rename(drop.incoming / "day.jsonl")
    assert [r.name for r in drop.poll()] == ["day.jsonl"]
    assert hidden.exists()


def test_the_same_file_dropped_twice_is_not_applied_twice(
    drop: DropDirectory, centre: Centre
) -> None:
    write_jsonl(drop.incoming / "day.jsonl", [record()])
    drop.poll()
    write_jsonl(drop.incoming / "day.jsonl", [record()])
    [again] = drop.poll()
    assert again.outcome == "failed"
    assert "the same file was taken as day.jsonl" in (again.error or "")
    assert (drop.failed / "day.jsonl").exists()
    assert len(centre.sent(NURZHOLY)) == 1


def test_a_file_left_half_done_by_a_stopped_centre_is_taken_again_without_resending(
    drop: DropDirectory, centre: Centre
) -> None:
    records = day(5)
    centre.desk.submit(records[:3], "drop:day.jsonl")  # the part stored before the stop
    path = drop.processing / "day.jsonl"
    path.write_text("".join(r.to_json() + "\n" for r in records))
    sent_before = len(centre.sent())
    [taken] = drop.poll()
    assert taken.outcomes == {"unchanged": 3, "accepted": 2}
    assert len(centre.sent()) - sent_before == len(
        [n for r in records[3:] for n in centre.desk.routing.nodes_for(r)]
    )
