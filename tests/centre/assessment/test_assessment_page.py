"""The IE assessment in the console: an operator imports the 2019 scores (CSV upload with the
session's CSRF token) or enters a country's by hand, reads the averages, areas at risk and pairs
with their reasons, sets the thresholds, and confirms a partner link's mode from a pair's
classification: recorded, audited, shown against the running configuration (which it does not
change). Without the token, without the confirmation, or as a viewer, nothing is changed and
the refusal is audited where an operator tried. On SQLite and PostgreSQL."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from centre.assessment.store import confirmed_modes, load_sheet, modes_not_applied
from centre.assessment.thresholds import Level
from centre.console.app import create_console
from centre.console.operators import Role, add_operator
from centre.console.overview import LinkState
from centre.console.settings import ConsoleSettings
from centre.store.schema import assessment_decisions, console_audit
from tests.centre.assessment.sheets import SHIPPED, sheet_csv
from tests.centre.conftest import CENTRE, Centre
from tests.centre.console_helpers import FAST_HASHER, csrf_of

PASSWORDS = {"olga": "olga-password-1", "viktor": "viktor-password-1", "irina": "irina-password"}
# The running configuration: KG over CIE, UZ over SIE bundles, no link to the others.
LINKS = [LinkState("cie-KG", "cie", "KG-CIS", True), LinkState("sie-UZ", "sie", "UZ-CIS")]


@dataclass
class Page:
    client: TestClient
    centre: Centre

    def login(self, who: str) -> str:
        response = self.client.post(
            "/login", data={"login": who, "password": PASSWORDS[who]}, follow_redirects=True
        )
        assert response.status_code == 200, response.text
        return csrf_of(response.text)

    def upload(self, csrf: str | None, content: bytes, name: str = "scores.csv") -> object:
        data = {"csrf_token": csrf} if csrf is not None else {}
        return self.client.post(
            "/assessment/import", data=data, files={"scores": (name, content, "text/csv")}
        )

    def audit(self) -> list[tuple[str, str, str, str]]:
        query = select(
            console_audit.c.operator, console_audit.c.action, console_audit.c.item,
            console_audit.c.outcome,
        ).order_by(console_audit.c.id)  # fmt: skip
        with self.centre.engine.connect() as conn:
            return [tuple(row) for row in conn.execute(query)]  # type: ignore[misc]

    def decisions(self) -> int:
        with self.centre.engine.connect() as conn:
            return int(
                conn.execute(select(func.count()).select_from(assessment_decisions)).scalar_one()
            )


@pytest.fixture
def page(centre: Centre) -> Iterator[Page]:
    engine = centre.engine
    add_operator(engine, "olga", PASSWORDS["olga"], Role.OPERATOR, hasher=FAST_HASHER)
    add_operator(engine, "viktor", PASSWORDS["viktor"], Role.VIEWER, hasher=FAST_HASHER)
    add_operator(
        engine, "irina", PASSWORDS["irina"], Role.OPERATOR, language="ru", hasher=FAST_HASHER
    )
    app = create_console(
        engine, ConsoleSettings(cookie_secure=False), centre_id=CENTRE, hasher=FAST_HASHER,
        links=lambda: LINKS,
    )  # fmt: skip
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        yield Page(client, centre)


def row(html: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{row_id}"[^>]*>(.*?)</tr>', html, re.S)
    assert found, f"no row {row_id}"
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()
    return text.replace(" ,", ",")


def test_an_operator_imports_the_2019_scores_and_reads_the_report(page: Page) -> None:
    csrf = page.login("olga")
    empty = page.client.get("/assessment")
    assert empty.status_code == 200
    assert 'id="assessment-empty"' in empty.text
    response = page.upload(csrf, SHIPPED.read_bytes(), "ie-2019-scores.csv")
    assert response.status_code == 303
    html = page.client.get(response.headers["location"]).text
    assert row(html, "country-CN").startswith("CN edit 3.3* 3.5* —")
    assert row(html, "country-TJ").startswith(
        "TJ edit 2.7 2.2 Project Management (1.3), Program Management (1.2)"
    )
    assert row(html, "area-program_management") == (
        "Program Management 2.6 1.8 2.2 1.5 N/A 1.2 ! 2.1 1.9 1.5 2.5"
    )
    assert row(html, "area-existing_agreement").startswith(
        "Existing Agreement in Place 3.9 3.0 3.0"
    )
    assert 'data-candidate="sie"' in re.search(r'<tr id="pair-KZ-KG"[^>]*>', html).group(0)  # type: ignore[union-attr]
    assert "KG: Security, Privacy and Confidentiality 1.9 is below the CIE minimum 3.5" in row(
        html, "pair-KZ-KG"
    )
    assert row(html, "pair-AZ-MN") == "AZ–MN not yet MN: Linkages 1.3 is below the SIE minimum 1.5"
    # This centre is KZ's: its links' modes as running, KG's over CIE though only an SIE candidate.
    assert row(html, "link-KG").startswith("KG SIE (simple exchange) CIE —")
    assert row(html, "link-MN").startswith("MN not yet no link —")
    assert "Not a candidate yet" in row(html, "link-MN")
    assert page.audit() == [("olga", "assessment.import", "assessment:ie-2019-scores.csv",
                             "imported 7 countries: AZ, KZ, KG, MN, CN, TJ, UZ")]  # fmt: skip
    sheet, _sources = load_sheet(page.centre.engine)
    assert sheet is not None
    assert sheet.of("CN").partial


def test_an_upload_without_the_csrf_token_changes_nothing(page: Page) -> None:
    page.login("olga")
    response = page.upload(None, SHIPPED.read_bytes())
    assert response.status_code == 403
    assert load_sheet(page.centre.engine) == (None, [])


def test_a_bad_csv_is_shown_with_its_problems_and_nothing_is_taken(page: Page) -> None:
    csrf = page.login("olga")
    page.upload(csrf, SHIPPED.read_bytes())
    bad = sheet_csv({"KZ": {"linkages": "7"}, "XX": {}}).encode()
    response = page.upload(csrf, bad)
    assert response.status_code == 422
    assert (
        "row 1, column 4: &#39;XX&#39; is not an ISO 3166-1 alpha-2 country code" in response.text
    )
    sheet, _ = load_sheet(page.centre.engine)
    assert sheet is not None
    assert len(sheet.countries) == 7


def test_confirming_a_mode_is_recorded_audited_and_shown_against_the_running_config(
    page: Page,
) -> None:
    csrf = page.login("olga")
    page.upload(csrf, SHIPPED.read_bytes())
    form = {"csrf_token": csrf, "partner": "KG", "mode": "sie", "reason": "2019 assessment"}
    # No confirmation ticked: refused, audited, nothing recorded.
    refused = page.client.post("/assessment/mode", data=form)
    assert refused.status_code == 422
    assert "confirm: tick the confirmation" in refused.text
    # A mode above the pair's candidacy: refused.
    above = page.client.post("/assessment/mode", data=form | {"mode": "cie", "confirm": "yes"})
    assert above.status_code == 422
    assert page.decisions() == 0
    done = page.client.post("/assessment/mode", data=form | {"confirm": "yes"})
    assert done.status_code == 303
    [decision] = confirmed_modes(page.centre.engine).values()
    assert (decision.partner_country, decision.mode, decision.candidate, decision.running_mode) == (
        "KG",
        Level.SIE,
        Level.SIE,
        "cie",
    )
    assert decision.decided_by == "olga"
    assert decision.reason == "2019 assessment"
    actions = [(a[1], a[2]) for a in page.audit()[1:]]
    assert actions == [("link_mode.refused", "partner:KG"), ("link_mode.refused", "partner:KG"),
                       ("link_mode.confirm", "partner:KG")]  # fmt: skip
    assert "in force: cie" in page.audit()[-1][3]
    # What the centre would log at its start until [[partners]] follows the decision.
    [pending] = modes_not_applied(page.centre.engine, {"KG": "cie", "UZ": "sie"})
    assert (pending.partner_country, pending.mode) == ("KG", Level.SIE)
    assert modes_not_applied(page.centre.engine, {"KG": "sie"}) == []
    html = page.client.get("/assessment").text
    assert "Differs from the mode in force" in row(html, "link-KG")
    assert "the [[partners]] entry of KG has what sie needs" in row(html, "link-KG")
    assert row(html, "decision-1").startswith(
        "1 KG SIE (simple exchange) SIE CIE olga 2019 assessment"
    )


def test_confirming_a_mode_without_csrf_or_as_a_viewer_is_refused(page: Page) -> None:
    csrf = page.login("olga")
    page.upload(csrf, SHIPPED.read_bytes())
    form = {"partner": "KG", "mode": "sie", "confirm": "yes", "reason": "try"}
    assert page.client.post("/assessment/mode", data=form).status_code == 403
    page.client.post("/logout", data={"csrf_token": csrf})
    viewer_csrf = page.login("viktor")
    html = page.client.get("/assessment").text
    assert 'id="mode-form-KG"' not in html
    assert 'id="import-form"' not in html
    response = page.client.post("/assessment/mode", data=form | {"csrf_token": viewer_csrf})
    assert response.status_code == 403
    assert page.upload(viewer_csrf, SHIPPED.read_bytes()).status_code == 403
    assert page.decisions() == 0
    assert [a[:2] for a in page.audit()[1:]] == [("viktor", "refused"), ("viktor", "refused")]


def test_an_operator_enters_one_countrys_scores_by_hand(page: Page) -> None:
    csrf = page.login("olga")
    scores = {f"score_{key}": "2.0" for key in ("sponsorship", "linkages", "leadership")}
    bad = page.client.post(
        "/assessment/country",
        data={"csrf_token": csrf, "country": "KZ", **scores, "score_management": "6"},
    )
    assert bad.status_code == 422
    assert "Management: &#39;6&#39; is out of range" in bad.text
    done = page.client.post(
        "/assessment/country",
        data={"csrf_token": csrf, "country": "kz", "partial": "yes", **scores},
    )
    assert done.status_code == 303
    sheet, sources = load_sheet(page.centre.engine)
    assert sheet is not None
    kz = sheet.of("KZ")
    assert kz.partial
    assert str(kz.scores["linkages"]) == "2.0"
    assert kz.scores["management"] is None
    assert sources[0].source == "form"
    assert page.audit()[-1][:3] == ("olga", "assessment.country", "assessment:KZ")
    assert row(page.client.get("/assessment").text, "country-KZ").startswith("KZ edit 2.0* 2.0*")
    # Editing KZ again starts from its scores.
    form = page.client.get("/assessment?edit=KZ").text
    assert 'name="country" required maxlength="2" size="3" pattern="[A-Za-z]{2}" value="KZ"' in form
    assert 'name="score_linkages" maxlength="6" size="6" placeholder="N/A" value="2.0"' in form
    assert 'name="score_management" maxlength="6" size="6" placeholder="N/A">' in form


def test_an_operator_sets_the_thresholds_and_the_report_follows(page: Page) -> None:
    csrf = page.login("olga")
    page.upload(csrf, SHIPPED.read_bytes())
    bad = page.client.post(
        "/assessment/thresholds", data={"csrf_token": csrf, "thresholds": "sie = 9\n"}
    )
    assert bad.status_code == 422
    assert "sie: Input should be less than or equal to 5" in bad.text
    done = page.client.post(
        "/assessment/thresholds", data={"csrf_token": csrf, "thresholds": "sie = 2.0\n"}
    )
    assert done.status_code == 303
    html = page.client.get("/assessment").text
    assert "Thresholds set by olga." in html
    assert row(html, "country-KZ").startswith("KZ edit 3.3 2.8 Program Management (1.8)")
    assert 'data-candidate="not_yet"' in re.search(r'<tr id="pair-KZ-KG"[^>]*>', html).group(0)  # type: ignore[union-attr]


def test_the_page_speaks_russian_to_a_russian_operator(page: Page) -> None:
    csrf = page.login("irina")
    page.upload(csrf, SHIPPED.read_bytes())
    html = page.client.get("/assessment").text
    assert "Оценка готовности к обмену информацией" in html
    assert "Управление программами" in row(html, "country-TJ")
    assert "ниже минимума" in row(html, "pair-AZ-MN")


def test_without_the_services_links_the_running_mode_is_unknown(centre: Centre) -> None:
    add_operator(centre.engine, "olga", PASSWORDS["olga"], Role.OPERATOR, hasher=FAST_HASHER)
    app = create_console(
        centre.engine, ConsoleSettings(cookie_secure=False), centre_id=CENTRE,
        hasher=FAST_HASHER,
    )  # fmt: skip
    with TestClient(app, base_url="http://127.0.0.1", follow_redirects=False) as client:
        page = Page(client, centre)
        csrf = page.login("olga")
        page.upload(csrf, SHIPPED.read_bytes())
        form = {"csrf_token": csrf, "partner": "UZ", "mode": "sie", "confirm": "yes",
                "reason": "2019"}  # fmt: skip
        assert client.post("/assessment/mode", data=form).status_code == 303
        html = client.get("/assessment").text
    assert row(html, "link-UZ").startswith("UZ SIE (simple exchange) unknown SIE · olga")
    assert "Differs from the mode in force" not in html
    assert "in force: unknown" in page.audit()[-1][3]
