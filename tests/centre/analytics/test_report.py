"""The monthly PDF report of a post and of a link: a PDF whose cross-reference table is where
its trailer says, in DejaVu (Cyrillic in Russian), showing the post and the figures the page
shows."""

from __future__ import annotations

import re

import pytest

from centre.analytics.collect import Period, compute
from centre.analytics.figures import Figures
from centre.analytics.report import ReportError, monthly_report
from centre.console.i18n import Catalogs
from tests.centre.analytics.pdf_text import pdf_text
from tests.centre.analytics.scenario import LINKS, Scenario
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY


def assert_valid_pdf(pdf: bytes) -> None:
    assert pdf.startswith(b"%PDF-")
    assert pdf.rstrip().endswith(b"%%EOF")
    offset = int(re.findall(rb"startxref\s+(\d+)", pdf)[-1])
    assert 0 < offset < len(pdf)
    assert pdf[offset : offset + 4] == b"xref"


def test_a_posts_report_shows_the_post_and_the_figures_of_its_page(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    pdf = monthly_report(analytics, post=NURZHOLY)
    assert_valid_pdf(pdf)
    text = pdf_text(pdf)
    figures = Figures.of(analytics.tally([NURZHOLY]))
    assert f"Analytics report: {NURZHOLY}, {scenario.month}" in text
    lines = text.splitlines()
    assert lines[lines.index("Pre-arrival %") + 1] == f"{figures.coverage_pct:.1f}"
    assert lines[lines.index("To decision, p90 (s)") + 1] == f"{figures.decision_p90_s:.0f}"
    assert lines[lines.index("Inspection hit rate %") + 1] == "no data"
    assert "SEAL_MISSING" in text


def test_a_links_report_covers_its_posts_and_reads_in_russian(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    pdf = monthly_report(analytics, link="KG", translations=Catalogs().gettext("ru"))
    assert_valid_pdf(pdf)
    text = pdf_text(pdf)
    assert "Аналитический отчёт: KZ – KG" in text
    assert KORGAS in text
    assert NURZHOLY not in text
    lines = text.splitlines()
    trucks = Figures.of(analytics.tally([KORGAS])).trucks
    assert lines[lines.index("Грузовики") + 1] == str(trucks)


def test_a_report_names_one_post_or_one_link(scenario: Scenario) -> None:
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    with pytest.raises(ReportError, match="one post or one link"):
        monthly_report(analytics)
    with pytest.raises(ReportError, match="one post or one link"):
        monthly_report(analytics, post=KORGAS, link="KG")
