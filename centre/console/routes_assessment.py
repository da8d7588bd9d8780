"""The IE assessment page: the score sheet (imported from CSV, or one country entered in a
form), the thresholds, the report, and confirming a partner link's mode from a pair's
classification. Reading is for every role; changing is for operators, with the session's CSRF
token, and each change is audited in its own transaction."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from centre.assessment.areas import AREAS
from centre.assessment.csv_import import MAX_BYTES, AssessmentCsvError, read_scores_file
from centre.assessment.sheet import CountryScores, ScoreError, country_error, parse_score
from centre.assessment.store import (
    current_thresholds,
    put_country,
    record_decision,
    replace_sheet,
    set_thresholds,
)
from centre.assessment.thresholds import DEFAULTS_FILE, Level
from centre.audit import MAX_REASON_CHARS, audit, checked_reason
from centre.console.assessment import (
    AREA_NAMES,
    LEVELS,
    areas_with_scores,
    assessment_page,
    reason_parts,
)
from centre.console.web import Acting, Actor, Who, console_of, render
from edge.config import ConfigError
from edge.logs import log_event

logger = logging.getLogger(__name__)
router = APIRouter()
MAX_THRESHOLDS_CHARS = 16_000
Reason = Annotated[str, Form(max_length=MAX_REASON_CHARS)]


def _page(
    request: Request,
    who: Actor,
    *,
    problems: list[str] | None = None,
    done: str | None = None,
    typed_thresholds: str | None = None,
    editing: str | None = None,
    status_code: int = 200,
) -> Response:
    console = console_of(request)
    page = assessment_page(console.engine, console.centre_id, console.links)
    edited = None
    if editing is not None and page.sheet is not None and editing in page.sheet.codes:
        edited = page.sheet.of(editing)
    context = {
        "page": page,
        "areas": AREAS,
        "area_names": AREA_NAMES,
        "levels": LEVELS,
        "sheet_rows": areas_with_scores(page.sheet),
        "reason_parts": reason_parts,
        "sie": Level.SIE,
        "cie": Level.CIE,
        "problems": problems or [],
        "done": done,
        "edited": edited,
        "thresholds_text": typed_thresholds
        if typed_thresholds is not None
        else page.thresholds_text or DEFAULTS_FILE.read_text(encoding="utf-8"),
    }
    return render(request, "assessment.html", context, who=who, status_code=status_code)


@router.get("/assessment", response_class=HTMLResponse)
def assessment(
    request: Request, who: Who, done: str | None = None, edit: str | None = None
) -> Response:
    """The page; `edit=KZ` fills the entry form with KZ's scores."""
    return _page(request, who, done=done if done in DONE else None, editing=edit)


DONE = ("imported", "country", "thresholds", "mode")


@router.post("/assessment/import")
def import_csv(request: Request, who: Acting, scores: Annotated[UploadFile, File()]) -> Response:
    name = (scores.filename or "scores.csv")[:100]
    data = scores.file.read(MAX_BYTES + 1)
    try:
        sheet = read_scores_file(name, data)
    except AssessmentCsvError as error:
        return _page(request, who, problems=error.problems, status_code=422)
    with console_of(request).engine.begin() as conn:
        replace_sheet(conn, sheet, who.operator.login, f"csv:{name}")
        audit(conn, who.operator.login, "assessment.import", f"assessment:{name}", "",
              f"imported {len(sheet.countries)} countries: {', '.join(sheet.codes)}")  # fmt: skip
    log_event(logger, logging.INFO, "console.assessment_import", operator=who.operator.login,
              countries=len(sheet.countries))  # fmt: skip
    return RedirectResponse("/assessment?done=imported", status_code=303)


@router.post("/assessment/country")
async def enter_country(request: Request, who: Acting) -> Response:
    form = await request.form()
    country = str(form.get("country", "")).strip().upper()[:2]
    problems = []
    if error := country_error(country):
        problems.append(f"country: {error}")
    scores: dict[str, Decimal | None] = {}
    for area in AREAS:
        cell = str(form.get(f"score_{area.key}", ""))[:16]
        try:
            scores[area.key] = parse_score(cell or "N/A")
        except ScoreError as score_error:
            problems.append(f"{area.name}: {score_error}")
    if problems:
        return _page(request, who, problems=problems, status_code=422)
    entered = CountryScores(country, scores, form.get("partial") == "yes")
    with console_of(request).engine.begin() as conn:
        put_country(conn, entered, who.operator.login)
        audit(conn, who.operator.login, "assessment.country", f"assessment:{country}", "",
              "scores entered" + (" (partial)" if entered.partial else ""))  # fmt: skip
    return RedirectResponse("/assessment?done=country", status_code=303)


@router.post("/assessment/thresholds")
def thresholds(
    request: Request,
    who: Acting,
    text: Annotated[str, Form(alias="thresholds", max_length=MAX_THRESHOLDS_CHARS)],
) -> Response:
    try:
        with console_of(request).engine.begin() as conn:
            set_thresholds(conn, text, who.operator.login)
            audit(conn, who.operator.login, "assessment.thresholds", "assessment:thresholds",
                  "", "thresholds set")  # fmt: skip
    except ConfigError as error:
        return _page(request, who, problems=error.problems, typed_thresholds=text,
                     status_code=422)  # fmt: skip
    return RedirectResponse("/assessment?done=thresholds", status_code=303)


@router.post("/assessment/mode")
def confirm_mode(
    request: Request,
    who: Acting,
    partner: Annotated[str, Form(max_length=2)],
    mode: Annotated[str, Form(max_length=8)],
    confirm: Annotated[str, Form(max_length=8)] = "",
    reason: Reason = "",
) -> Response:
    """The operator's decision on the link to `partner`: recorded and audited; the running
    config is not touched (the page shows the difference)."""
    console = console_of(request)
    why = checked_reason(reason)
    page = assessment_page(console.engine, console.centre_id, console.links)
    row = next((r for r in page.links if r.partner == partner), None)
    item = f"partner:{partner}"
    problem = None
    if row is None:
        problem = f"partner: {partner!r} is not assessed beside {page.own_country}"
    elif mode not in (lvl.value for lvl in row.modes_offered):
        problem = (
            f"mode: {mode!r} is not offered; the pair {row.pair.a}-{row.pair.b} is a candidate "
            f"for {row.pair.candidate.value}"
        )
    elif confirm != "yes":
        problem = "confirm: tick the confirmation to record this mode"
    if problem is not None or row is None:
        with console.engine.begin() as conn:
            audit(conn, who.operator.login, "link_mode.refused", item, why,
                  f"refused: {problem}")  # fmt: skip
        return _page(request, who, problems=[str(problem)], status_code=422)
    thresholds_now = current_thresholds(console.engine).thresholds
    level = Level(mode)
    with console.engine.begin() as conn:
        decision = record_decision(conn, row.pair, partner, level, row.running,
                                   thresholds_now, who.operator.login, why)  # fmt: skip
        running = row.running or ("no link" if page.links_known else "unknown")
        audit(conn, who.operator.login, "link_mode.confirm", item, why,
              f"decision {decision}: mode {mode} confirmed (candidate "
              f"{row.pair.candidate.value}; in force: {running}); followed from the centre's "
              "next start where its [[partners]] entry has what the mode needs")  # fmt: skip
    log_event(logger, logging.INFO, "console.link_mode_confirmed", partner=partner, mode=mode,
              operator=who.operator.login)  # fmt: skip
    return RedirectResponse("/assessment?done=mode#links", status_code=303)
