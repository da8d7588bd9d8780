"""The analytics pages: a period's figures per post, per partner link and SIE against CIE, with
charts drawn on the server; one post's days and lanes; every table as CSV; the monthly PDF
report of a post or a link. Read by operators, viewers and auditors (counts only, no record
and no person); not by the fleet's operator."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, Response

from centre.analytics.charts import decision_times, modes_coverage, trucks_per_day
from centre.analytics.collect import Analytics, Link, Period, PeriodError, compute
from centre.analytics.export import to_csv
from centre.analytics.report import monthly_report
from centre.analytics.tables import (
    TABLE_NAMES,
    days_table,
    discrepancies_table,
    format_cell,
    lanes_table,
    links_table,
    modes_table,
    posts_table,
    table_named,
)
from centre.console.operators import Role
from centre.console.overview import LinkState
from centre.console.web import Actor, NotAllowedError, actor, console_of, render
from edge.timeutil import utcnow

router = APIRouter()
ANALYTICS_READERS = frozenset({Role.OPERATOR, Role.VIEWER, Role.AUDITOR})
MONTH = r"^\d{4}-(0[1-9]|1[0-2])$"
NODE = r"^[A-Z]{2}-[A-Z][A-Z0-9]{0,31}(-[1-9][0-9]{0,3})?$"
Month = Annotated[str | None, Query(pattern=MONTH)]
Post = Annotated[str | None, Query(pattern=NODE)]
Country = Annotated[str | None, Query(pattern=r"^[A-Z]{2}$")]


def analytics_reader(who: Annotated[Actor, Depends(actor)]) -> Actor:
    if who.operator.role not in ANALYTICS_READERS:
        raise NotAllowedError
    return who


Reader = Annotated[Actor, Depends(analytics_reader)]


def links_of_states(states: Sequence[LinkState]) -> list[Link]:
    """The partner links among the service's links: country, partner centre, mode."""
    return [
        Link(state.partner[:2], state.partner, state.kind)
        for state in states
        if state.kind in ("cie", "sie") and state.partner
    ]


def _analytics(request: Request, month: str | None) -> Analytics:
    console = console_of(request)
    period = Period.month(month or utcnow().strftime("%Y-%m"))
    links = links_of_states(console.links()) if console.links is not None else []
    return compute(console.engine, period, console.centre_id, links)


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(request: Request, who: Reader, month: Month = None) -> Response:
    analytics = _analytics(request, month)
    context = {
        "month": analytics.period.label,
        "tables": [
            posts_table(analytics),
            links_table(analytics),
            modes_table(analytics),
            discrepancies_table(analytics),
        ],
        "trucks_chart": trucks_per_day(analytics),
        "times_chart": decision_times(analytics),
        "modes_chart": modes_coverage(analytics),
        "fmt": format_cell,
        "scope": "",
    }
    return render(request, "analytics.html", context, who=who)


@router.get("/analytics/posts/{post}", response_class=HTMLResponse)
def post_page(
    request: Request, who: Reader, post: Annotated[str, PathParam(pattern=NODE)],
    month: Month = None,
) -> Response:  # fmt: skip
    analytics = _analytics(request, month)
    context = {
        "month": analytics.period.label,
        "post": post,
        "link": analytics.post_links.get(post),
        "mode": analytics.mode_of_post(post),
        "tables": [
            lanes_table(analytics, [post]),
            discrepancies_table(analytics, [post]),
            days_table(analytics, [post]),
        ],
        "trucks_chart": trucks_per_day(analytics, [post]),
        "times_chart": decision_times(analytics, [post]),
        "fmt": format_cell,
        "scope": f"&post={post}",
    }
    return render(request, "analytics_post.html", context, who=who)


@router.get("/analytics/{name}.csv")
def table_csv(
    request: Request, _who: Reader, name: Annotated[str, PathParam(pattern="^[a-z]{1,20}$")],
    month: Month = None, post: Post = None, link: Country = None,
) -> Response:  # fmt: skip
    if name not in TABLE_NAMES:
        return Response("no such table\n", status_code=404, media_type="text/plain")
    analytics = _analytics(request, month)
    table = table_named(analytics, name, post, link)
    scope = f"-{post or link}" if post or link else ""
    filename = f"analytics-{name}{scope}-{analytics.period.start:%Y-%m}.csv"
    return Response(
        to_csv(table).encode("utf-8"),
        media_type="text/csv; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/analytics/report.pdf")
def report_pdf(
    request: Request, who: Reader, month: Month = None, post: Post = None, link: Country = None
) -> Response:
    if (post is None) == (link is None):
        return Response("name one post or one link\n", status_code=422, media_type="text/plain")
    try:
        analytics = _analytics(request, month)
    except PeriodError as error:
        return Response(f"{error}\n", status_code=422, media_type="text/plain")
    console = console_of(request)
    translations = console.catalogs.gettext(who.operator.language)
    pdf = monthly_report(analytics, post=post, link=link, translations=translations)
    filename = f"analytics-{post or link}-{analytics.period.start:%Y-%m}.pdf"
    return Response(
        pdf, media_type="application/pdf",
        headers={"content-disposition": f'attachment; filename="{filename}"'},
    )  # fmt: skip
