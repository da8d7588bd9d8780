"""`carec-edge assessment report`: the shipped scores' averages, areas at risk and pairs as text
and as the issue's JSON shape; a bad CSV or thresholds file is a clear error and status 2, never
a traceback; no database or config needed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import main
from tests.centre.assessment.sheets import SHIPPED, sheet_csv


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    status = main(["assessment", "report", *args])
    out = capsys.readouterr()
    return status, out.out, out.err


def test_json_has_the_issues_shape_and_the_published_averages(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _err = run(capsys, str(SHIPPED), "--json")
    assert status == 0
    report = json.loads(out)
    assert set(report) == {"countries", "pairs"}
    assert report["countries"]["KZ"] == {
        "readiness": 3.3,
        "maturity": 2.8,
        "partial": False,
        "at_risk": [],
    }
    assert report["countries"]["CN"] == {
        "readiness": 3.3,
        "maturity": 3.5,
        "partial": True,
        "at_risk": [],
    }
    assert report["countries"]["TJ"]["at_risk"] == ["project_management", "program_management"]
    assert report["countries"]["MN"]["at_risk"] == ["linkages"]
    assert len(report["pairs"]) == 21
    kz_kg = next(p for p in report["pairs"] if (p["a"], p["b"]) == ("KZ", "KG"))
    assert kz_kg["candidate"] == "SIE"
    assert (
        "KG: Security, Privacy and Confidentiality 1.9 is below the CIE minimum 3.5"
        in kz_kg["reasons"]
    )
    az_mn = next(p for p in report["pairs"] if (p["a"], p["b"]) == ("AZ", "MN"))
    assert az_mn == {
        "a": "AZ",
        "b": "MN",
        "candidate": "not yet",
        "reasons": ["MN: Linkages 1.3 is below the SIE minimum 1.5"],
    }
    candidates = [p["candidate"] for p in report["pairs"]]
    assert (candidates.count("SIE"), candidates.count("not yet"), candidates.count("CIE")) == (
        10,
        11,
        0,
    )


def test_text_prints_the_averages_the_areas_at_risk_and_the_pairs(
    capsys: pytest.CaptureFixture[str],
) -> None:
    status, out, _err = run(capsys, str(SHIPPED))
    assert status == 0
    lines = out.splitlines()
    assert "CN            3.3*      3.5*  —" in lines
    assert "TJ             2.7       2.2  Project Management 1.3, Program Management 1.2" in lines
    assert any(line.startswith("Program Management") and " 1.9 " in line for line in lines)
    assert "KZ-KG  SIE" in lines
    assert "MN-TJ  not yet" in lines
    assert "    CN: partial assessment: a candidate for SIE at most" in lines


def test_a_thresholds_file_is_used(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("sie = 2.0\n")
    status, out, _err = run(capsys, str(SHIPPED), "--json", "--thresholds", str(thresholds))
    assert status == 0
    report = json.loads(out)
    assert report["countries"]["KZ"]["at_risk"] == ["program_management"]
    assert (
        next(p for p in report["pairs"] if (p["a"], p["b"]) == ("KZ", "KG"))["candidate"]
        == "not yet"
    )


def test_a_bad_csv_is_named_with_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(sheet_csv({"KZ": {"linkages": "7"}, "KG": {}}))
    status, out, err = run(capsys, str(bad))
    assert (status, out) == (2, "")
    assert f"bad scores in {bad}:" in err
    assert "row 14 (Linkages), column KZ: '7' is out of range" in err


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (b"\xff\xfe not text", "not UTF-8"),
        (b'group,area,KZ\nreadiness,"unclosed\n', "not CSV"),
    ],
)
def test_a_file_that_is_no_csv_is_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, content: bytes, expected: str
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(content)
    status, _out, err = run(capsys, str(bad))
    assert status == 2
    assert expected in err


def test_a_missing_file_or_bad_thresholds_is_status_2(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    status, _out, err = run(capsys, str(tmp_path / "none.csv"))
    assert status == 2
    assert "none.csv" in err
    thresholds = tmp_path / "t.toml"
    thresholds.write_text("[areas.nowhere]\ncie = 3\n")
    status, _out, err = run(capsys, str(SHIPPED), "--thresholds", str(thresholds))
    assert status == 2
    assert "bad thresholds" in err
    assert "unknown area key nowhere" in err


def test_the_installed_command_says_what_is_wrong_without_a_traceback(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("group,area,KZ,QQ\n")
    done = subprocess.run(
        [sys.executable, "-m", "edge.cli", "assessment", "report", str(bad)],
        capture_output=True, text=True, timeout=60, env=os.environ | {"PYTHONPATH": str(Path.cwd())},
    )  # fmt: skip
    assert done.returncode == 2
    assert "Traceback" not in done.stderr
    assert "row 1, column 4: 'QQ' is not an ISO 3166-1 alpha-2 country code" in done.stderr
