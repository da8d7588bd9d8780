"""Hostile and clumsy bundles at `carec-edge sync import`: each gets a clear error naming the
bundle and no traceback, memory stays bounded whatever the file holds, the summary tells the
truth, and every valid message of the same bundle is still applied."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from edge.config import load_config
from edge.manifest_cache import ManifestCache
from edge.store import open_database
from edge.timeutil import format_utc, utcnow
from provisioning.identity.fleet import Fleet, make_fleet
from sync import bundle_import
from sync.envelope import ENVELOPE_TYPE, canonical_json, header_segment, sign_compact
from sync.inbox import Outcome
from sync.messages import new_message_id
from sync.outbox import Signer
from sync.setup import build_sync
from sync.topics import topic_for
from tests.chaos.harness import node_config
from tests.fixtures.records import record
from tests.peak_memory import run_with_peak_memory
from tests.sync.crossing import ENTRY, EXIT
from tests.sync.test_bundles_cli import carec_edge, queue_confirmations


@dataclass
class Crossing:
    fleet: Fleet
    entry_config: Path
    entry_data: Path
    lines: list[str]  # the exported bundle of five exit confirmations, header first

    def write(self, path: Path, lines: list[str], promised: int | None = None) -> Path:
        header = json.loads(lines[0]) if lines else {}
        if promised is not None:
            header["messages"] = promised
        path.write_text("\n".join([json.dumps(header), *lines[1:]]) + "\n")
        return path

    def import_(self, bundle: Path | str) -> subprocess.CompletedProcess[str]:
        return carec_edge(self.entry_config, self.entry_data, "sync", "import", str(bundle))

    def stored(self) -> int:
        return ManifestCache(open_database(self.entry_data)).count()


@pytest.fixture
def crossing(tmp_path: Path) -> Crossing:
    fleet = make_fleet(tmp_path / "fleet", [EXIT, ENTRY])
    exit_config = node_config(fleet, EXIT, 1, tmp_path / "exit.toml")
    entry_config = node_config(fleet, ENTRY, 1, tmp_path / "entry.toml")
    queue_confirmations(fleet, tmp_path / "exit", 5)
    bundle = tmp_path / "five.bundle"
    exported = carec_edge(
        exit_config, tmp_path / "exit", "sync", "export", "--peer", "hub", "--out", str(bundle)
    )
    assert exported.returncode == 0, exported.stderr
    return Crossing(fleet, entry_config, tmp_path / "entry", bundle.read_text().splitlines())


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout, result.stderr


def test_a_bundle_cut_at_a_line_boundary_is_reported_cut_and_its_messages_applied(
    crossing: Crossing, tmp_path: Path
) -> None:
    cut = tmp_path / "cut.bundle"
    cut.write_text("\n".join(crossing.lines[:3]) + "\n")  # the header says 5

    result = crossing.import_(cut)

    no_traceback(result)
    assert result.returncode == 1
    assert "2 applied" in result.stdout
    assert f"{cut}: cut short: its header promises 5 messages, 2 found" in result.stderr
    assert crossing.stored() == 2


def test_a_reversed_bundle_reports_all_its_messages_applied(
    crossing: Crossing, tmp_path: Path
) -> None:
    reversed_ = crossing.write(tmp_path / "rev.bundle", [crossing.lines[0], *crossing.lines[:0:-1]])

    result = crossing.import_(reversed_)

    no_traceback(result)
    assert result.returncode == 0, result.stderr
    assert "5 applied, 0 duplicate, 0 parked, 0 quarantined" in result.stdout
    assert crossing.stored() == 5


def test_a_deeply_nested_line_is_quarantined_and_the_rest_applied(
    crossing: Crossing, tmp_path: Path
) -> None:
    nested = "[" * 100_000 + "]" * 100_000
    lines = [*crossing.lines[:3], nested, *crossing.lines[3:]]
    bundle = crossing.write(tmp_path / "nested.bundle", lines, promised=6)

    result = crossing.import_(bundle)

    no_traceback(result)
    assert result.returncode == 1
    assert "5 applied, 0 duplicate, 0 parked, 1 quarantined" in result.stdout
    assert '"bad_bundle_line": 1' in result.stdout
    assert crossing.stored() == 5


def signed_line(signer: Signer, content: dict[str, Any]) -> str:
    """An envelope signed by the exit post's real key, whatever it holds."""
    header = header_segment(ENVELOPE_TYPE, EXIT, signer.private_key, signer.certificate_pem)
    envelope = sign_compact(header, canonical_json(content), signer.private_key, 1 << 20)
    topic = topic_for(EXIT, ENTRY, str(content["type"]))
    return json.dumps({"topic": topic, "envelope": envelope.decode("ascii")})


def test_envelopes_with_integers_beyond_64_bits_are_quarantined_and_the_rest_applied(
    crossing: Crossing, tmp_path: Path
) -> None:
    signer = Signer.load(crossing.fleet.nodes[EXIT], EXIT)

    def content(seq: int, version: int, ref: str) -> dict[str, Any]:
        return {
            "id": new_message_id(), "type": "exit_confirmation", "origin": EXIT,
            "destination": ENTRY, "created": format_utc(utcnow()), "schema": 1,
            "stream": f"{EXIT}/{ENTRY}/hostile-{ref}", "seq": seq,
            "payload": {
                "record": record(ref=ref, version=version), "exit_node": EXIT,
                "exited_at": "2026-11-28T09:00:00Z",
            },
        }  # fmt: skip

    huge_seq = signed_line(signer, content(2**63, 1, "HUGESEQ"))
    huge_version = signed_line(signer, content(1, 2**63, "HUGEVERSION"))
    lines = [*crossing.lines[:2], huge_seq, *crossing.lines[2:4], huge_version, *crossing.lines[4:]]
    bundle = crossing.write(tmp_path / "huge.bundle", lines, promised=7)

    result = crossing.import_(bundle)

    no_traceback(result)
    assert result.returncode == 1
    assert "5 applied, 0 duplicate, 0 parked, 2 quarantined" in result.stdout
    assert crossing.stored() == 5


def test_dev_zero_is_refused_as_no_bundle_with_its_name(crossing: Crossing) -> None:
    result = crossing.import_("/dev/zero")

    no_traceback(result)
    assert result.returncode == 2
    assert "/dev/zero: not a bundle" in result.stderr


def test_a_missing_bundle_is_named(crossing: Crossing, tmp_path: Path) -> None:
    result = crossing.import_(tmp_path / "nowhere.bundle")

    no_traceback(result)
    assert result.returncode == 2
    assert "nowhere.bundle" in result.stderr


def peak_rss_kb(
    crossing: Crossing, bundle: Path, feed: Callable[[], None] | None
) -> tuple[int, str]:
    command = [
        sys.executable, "-m", "edge.cli",
        "--config", str(crossing.entry_config), "--data-dir", str(crossing.entry_data),
        "sync", "import", str(bundle),
    ]  # fmt: skip
    writer = threading.Thread(target=feed, daemon=True) if feed else None
    if writer:
        writer.start()
    result = run_with_peak_memory(command, stdin=None, timeout=300)
    if writer:
        writer.join(60)
    return result.peak_kb, result.out + result.err


def test_a_line_without_end_does_not_grow_memory_and_the_rest_is_applied(
    crossing: Crossing, tmp_path: Path
) -> None:
    """256 MB without a newline in the middle of a bundle (a fifo, not a file on disk): the
    import's peak memory stays near that of a plain import of the same messages."""
    plain = crossing.write(tmp_path / "plain.bundle", crossing.lines)
    baseline_kb, _ = peak_rss_kb(crossing, plain, None)
    fifo = tmp_path / "endless.bundle"
    os.mkfifo(fifo)
    header = json.loads(crossing.lines[0]) | {"messages": 6}

    def feed() -> None:
        with fifo.open("wb") as out:
            out.write((json.dumps(header) + "\n").encode())
            out.write(("\n".join(crossing.lines[1:3]) + "\n").encode())
            chunk = b"x" * (1 << 20)
            for _ in range(256):
                out.write(chunk)
            out.write(b"\n" + ("\n".join(crossing.lines[3:]) + "\n").encode())

    other = tmp_path / "other"  # a fresh store, so that the five are new there too
    crossing.entry_data = other
    peak_kb, output = peak_rss_kb(crossing, fifo, feed)

    assert "Traceback" not in output, output
    assert "5 applied, 0 duplicate, 0 parked, 1 quarantined" in output
    assert peak_kb < baseline_kb + 64 * 1024, (peak_kb, baseline_kb)


def _entry_inbox(crossing: Crossing) -> Any:
    config = load_config(crossing.entry_config)
    engine = open_database(crossing.entry_data)
    return build_sync(config.sync, config.node.id, engine, ManifestCache(engine)).inbox


def test_parked_ids_are_followed_within_a_bound_and_the_rest_is_said(
    crossing: Crossing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A reversed bundle parks all but its last message; with room to follow two parked ids,
    # two are counted as released and the other two are said not to be followed.
    monkeypatch.setattr(bundle_import, "FOLLOWED_PARKED", 2)
    reversed_ = crossing.write(tmp_path / "rev.bundle", [crossing.lines[0], *crossing.lines[:0:-1]])

    report = bundle_import.import_bundle(_entry_inbox(crossing), reversed_, batch=1)

    assert report.counts[Outcome.APPLIED] == 3
    assert report.counts[Outcome.PARKED] == 2
    assert report.unfollowed == 2
    assert any(
        "2 parked messages beyond the first 2 were not followed" in p for p in report.problems()
    )
    assert crossing.stored() == 5  # all applied in fact; only the count is not followed


def test_parked_ids_are_checked_during_the_import_and_counted_once(
    crossing: Crossing, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(bundle_import, "RELEASE_CHECK", 1)
    released: list[int] = []
    real = bundle_import._released

    def counting(inbox: Any, report: Any, parked: list[str]) -> list[str]:
        left = real(inbox, report, parked)
        released.append(len(parked) - len(left))
        return left

    monkeypatch.setattr(bundle_import, "_released", counting)
    swapped = [crossing.lines[0], crossing.lines[2], crossing.lines[1], *crossing.lines[3:]]
    bundle = crossing.write(tmp_path / "swapped.bundle", swapped)

    report = bundle_import.import_bundle(_entry_inbox(crossing), bundle, batch=1)

    assert report.counts[Outcome.APPLIED] == 5
    assert report.counts[Outcome.PARKED] == 0
    assert len(released) >= 2  # checked while importing, not only at the end
    assert sum(released) == 1  # the second message, parked until the first came, counted once
