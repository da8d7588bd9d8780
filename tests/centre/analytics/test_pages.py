"""The analytics pages in the console: figures, charts drawn on the server and no script; the
numbers of the page, its CSV files and its PDF are the same; operators, viewers and auditors
read them, the fleet's operator may not, and nobody without a session sees anything."""

from __future__ import annotations

import csv
import html
import io
import re
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from centre.analytics.collect import Period, compute
from centre.analytics.figures import Figures
from centre.analytics.tables import format_cell, posts_table
from centre.console.app import create_console
from centre.console.link_states import link_states
from centre.console.operators import Role, add_operator
from centre.console.settings import ConsoleSettings
from tests.centre.analytics.pdf_text import pdf_text
from tests.centre.analytics.scenario import LINKS, ROUTING, Scenario
from tests.centre.conftest import CENTRE, KORGAS, NURZHOLY
from tests.centre.console_helpers import FAST_HASHER

PASSWORDS = {"olga": "olga-password-1", "viktor": "viktor-password-1",
             "anton": "anton-password-1", "farida": "farida-password-1",
             "irina": "irina-password-1"}  # fmt: skip
ROLES = {"olga": Role.OPERATOR, "viktor": Role.VIEWER, "anton": Role.AUDITOR,
         "farida": Role.FLEET, "irina": Role.OPERATOR}  # fmt: skip


@pytest.fixture
def client(scenario: Scenario) -> Iterator[TestClient]:
    service = scenario.service
    for login, role in ROLES.items():
        language = "ru" if login == "irina" else "en"
        add_operator(service.engine, login, PASSWORDS[login], role, language=language,
                     hasher=FAST_HASHER)  # fmt: skip
    app = create_console(
        service.engine, ConsoleSettings(cookie_secure=False), service.inbox, centre_id=CENTRE,
        routing=ROUTING, review=service.review, hasher=FAST_HASHER,
        links=lambda: link_states(service.links, service.config.partners),
    )  # fmt: skip
    with TestClient(app, base_url="http://127.0.0.1") as test_client:
        yield test_client


def login(client: TestClient, who: str) -> None:
    response = client.post("/login", data={"login": who, "password": PASSWORDS[who]})
    assert response.status_code == 200, response.text


def cell(page: str, table: str, row_start: str, column: str) -> str:
    body = page.split(f'id="table-{table}"', 1)[1].split("</table>", 1)[0]
    row = next(r for r in body.split("<tr>") if row_start in r)
    found = re.search(rf'data-column="{column}">(.*?)</td>', row)
    assert found, (table, row_start, column)
    return html.unescape(re.sub(r"<[^>]+>", "", found.group(1)))


def test_nobody_without_a_session_sees_analytics(client: TestClient, scenario: Scenario) -> None:
    for path in (
        f"/analytics?month={scenario.month}", f"/analytics/posts/{KORGAS}",
        f"/analytics/posts.csv?month={scenario.month}",
        f"/analytics/report.pdf?month={scenario.month}&post={KORGAS}",
    ):  # fmt: skip
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/login")
        assert KORGAS not in response.text


def test_the_fleets_operator_may_not_read_analytics(client: TestClient, scenario: Scenario) -> None:
    login(client, "farida")
    assert client.get(f"/analytics?month={scenario.month}").status_code == 403
    assert client.get(f"/analytics/posts.csv?month={scenario.month}").status_code == 403
    assert 'id="nav-analytics"' not in client.get("/").text


@pytest.mark.parametrize("who", ["olga", "viktor", "anton"])
def test_the_overview_shows_each_post_with_charts_and_no_script(
    client: TestClient, scenario: Scenario, who: str
) -> None:
    login(client, who)
    page = client.get(f"/analytics?month={scenario.month}")
    assert page.status_code == 200
    text = page.text
    assert 'id="nav-analytics"' in text
    assert "<script" not in text
    assert text.count("<svg") == 3
    assert 'fill="#2e7d32"' in text  # green bars
    analytics = compute(scenario.service.engine, Period.month(scenario.month), CENTRE, LINKS)
    figures = Figures.of(analytics.tally([NURZHOLY]))
    assert cell(text, "posts", NURZHOLY, "coverage_pct") == f"{figures.coverage_pct:.1f}"
    assert cell(text, "posts", NURZHOLY, "mode") == "sie"
    assert cell(text, "posts", KORGAS, "mode") == "cie"
    assert cell(text, "posts", KORGAS, "hit_pct") == "no data"
    assert "SIE against CIE" in text


def test_the_page_the_csv_and_the_pdf_show_the_same_numbers(
    client: TestClient, scenario: Scenario
) -> None:
    login(client, "olga")
    month = scenario.month
    page = client.get(f"/analytics?month={month}").text
    exported = client.get(f"/analytics/posts.csv?month={month}")
    assert exported.headers["content-type"].startswith("text/csv")
    assert "attachment" in exported.headers["content-disposition"]
    rows = list(csv.reader(io.StringIO(exported.text, newline="")))
    header, korgas = rows[0], next(r for r in rows if r[0] == KORGAS)
    for column in ("trucks", "coverage_pct", "decision_median_s", "decision_p90_s"):
        assert korgas[header.index(column)] == cell(page, "posts", KORGAS, column)
    report = client.get(f"/analytics/report.pdf?month={month}&post={KORGAS}")
    assert report.headers["content-type"] == "application/pdf"
    assert report.content.startswith(b"%PDF-")
    lines = pdf_text(report.content).splitlines()
    assert lines[lines.index("To decision, p90 (s)") + 1] == korgas[header.index("decision_p90_s")]
    analytics = compute(scenario.service.engine, Period.month(month), CENTRE, LINKS)
    table = posts_table(analytics)
    assert korgas[3] == format_cell(table.column("trucks")[0], "int")


def test_a_posts_page_has_its_days_and_lanes_and_its_report(
    client: TestClient, scenario: Scenario
) -> None:
    login(client, "viktor")
    page = client.get(f"/analytics/posts/{NURZHOLY}?month={scenario.month}")
    assert page.status_code == 200
    assert 'id="table-days"' in page.text
    assert cell(page.text, "discrepancies", "SEAL_MISSING", "trucks") == "3"
    days = client.get(f"/analytics/days.csv?month={scenario.month}&post={NURZHOLY}").text
    assert len(days.strip().splitlines()) == 1 + len(
        {(t.opened_at.date(), t.lane) for t in scenario.trucks if t.post == NURZHOLY}
    )
    link = client.get(f"/analytics/report.pdf?month={scenario.month}&link=CN")
    assert NURZHOLY in pdf_text(link.content)
    assert client.get(f"/analytics/nothing.csv?month={scenario.month}").status_code == 404
    assert client.get("/analytics?month=2026-13").status_code == 422


def test_in_russian_the_page_and_the_report_are_translated(
    client: TestClient, scenario: Scenario
) -> None:
    login(client, "irina")
    page = client.get(f"/analytics?month={scenario.month}").text
    assert "Аналитика" in page
    assert "SIE в сравнении с CIE" in page
    report = client.get(f"/analytics/report.pdf?month={scenario.month}&post={KORGAS}")
    assert f"Аналитический отчёт: {KORGAS}" in pdf_text(report.content)
