"""`carec-edge centre report`: the month's PDF of a post and a link's CSV table from the
centre's config and database, the same figures the console shows."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from centre.analytics.collect import Period, compute
from centre.analytics.figures import Figures
from edge.cli import main
from tests.centre.analytics.pdf_text import pdf_text
from tests.centre.analytics.scenario import LINKS, Scenario
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY


def config_file(scenario: Scenario, tmp_path: Path) -> Path:
    config = scenario.service.config
    partners = "".join(
        f'[[partners]]\ncountry = "{p.country}"\ncentre = "{p.centre}"\nmode = "{p.mode}"\n'
        + (f'host = "{p.host}"\nca_file = "{p.ca_file}"\n' if p.mode == "cie" else
           f'bundle_out = "{p.bundle_out}"\nbundle_in = "{p.bundle_in}"\n')
        for p in config.partners
    )  # fmt: skip
    path = tmp_path / "centre.toml"
    path.write_text(
        f'[centre]\nid = "{CENTRE}"\ndatabase = "{config.centre.database}"\n\n'
        f'[identity]\nidentity_dir = "{config.identity.identity_dir}"\n'
        f'trust_store = "{config.identity.trust_store}"\n\n{partners}',
        encoding="utf-8",
    )
    return path


def test_the_monthly_report_and_a_table_from_the_command_line(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(scenario, tmp_path)
    pdf, table = tmp_path / "korgas.pdf", tmp_path / "days.csv"
    args = ["centre", "report", "--config", str(config), "--month", scenario.month]
    assert main([*args, "--post", KORGAS, "-o", str(pdf), "--language", "ru"]) == 0
    assert "2 post(s)" in capsys.readouterr().out
    figures = Figures.of(
        compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS).tally(
            [KORGAS]
        )
    )
    lines = pdf_text(pdf.read_bytes()).splitlines()
    assert f"Аналитический отчёт: {KORGAS}, {scenario.month}" in lines
    assert (
        lines[lines.index("С предварительной информацией, %") + 1] == f"{figures.coverage_pct:.1f}"
    )
    assert main([*args, "--csv", "days", "--link", "CN", "-o", str(table)]) == 0
    rows = list(csv.DictReader(io.StringIO(table.read_text(encoding="utf-8"), newline="")))
    trucks = sum(int(row["trucks"]) for row in rows)
    assert trucks == len([t for t in scenario.trucks if t.post == NURZHOLY])


def test_a_report_without_a_post_or_a_link_or_with_a_bad_month_is_refused(
    scenario: Scenario, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = config_file(scenario, tmp_path)
    out = str(tmp_path / "x.pdf")
    assert main(["centre", "report", "--config", str(config), "--month", "2026-11", "-o", out]) == 2
    assert "--post NODE or --link COUNTRY" in capsys.readouterr().err
    bad = ["centre", "report", "--config", str(config), "--month", "11/2026", "--post", KORGAS]
    assert main([*bad, "-o", out]) == 2
    assert "YYYY-MM" in capsys.readouterr().err
    assert not Path(out).exists()
