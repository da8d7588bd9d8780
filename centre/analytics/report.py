"""The monthly PDF report of one post or one partner link: the figures the console's pages show
for it (the same tables, `centre.analytics.tables`), on A4 landscape, in the reader's language.
Text in DejaVu Sans (Latin and Cyrillic), embedded, so the file reads the same anywhere."""

from __future__ import annotations

import gettext
from collections.abc import Callable
from pathlib import Path

from fpdf import FPDF

from centre.analytics.collect import Analytics
from centre.analytics.figures import Figures
from centre.analytics.tables import (
    FIGURES,
    Table,
    days_table,
    discrepancies_table,
    format_cell,
    lanes_table,
    posts_table,
    scope_posts,
)
from centre.console.i18n import N_
from edge.timeutil import format_utc, utcnow

FONT_DIR = Path("/usr/share/fonts/truetype/dejavu")
FONT = "DejaVu"
NOTE = N_(
    "Empty cells: no data. Inspection hit rates need inspection results, which the boxes do "
    "not send yet; ambiguity needs the boxes to report it. Times are UTC."
)
# Every text of the report, for the console's catalogs (centre.console.analytics_texts).
TEXTS = (
    N_("Analytics report"), N_("Generated"), N_("Mode"), N_("Posts"), N_("Link"),
    N_("The period in figures"), N_("no data"), N_("No trucks in this period."), NOTE,
    N_("green"), N_("yellow"), N_("red"),
)  # fmt: skip


class ReportError(ValueError):
    """A report that cannot be made as asked."""


def _pdf() -> FPDF:
    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    if not regular.exists():
        raise ReportError(f"{regular} is missing: install Debian's fonts-dejavu-core")
    pdf = FPDF(orientation="L", unit="mm", format="A4")
    pdf.add_font(FONT, "", str(regular))
    pdf.add_font(FONT, "B", str(bold if bold.exists() else regular))
    pdf.set_auto_page_break(auto=True, margin=12)
    pdf.set_margins(10, 10, 10)
    return pdf


def monthly_report(
    analytics: Analytics,
    *,
    post: str | None = None,
    link: str | None = None,
    translations: gettext.NullTranslations | None = None,
) -> bytes:
    """The report of `post` or of the posts of partner `link` (a country) as PDF bytes."""
    if (post is None) == (link is None):
        raise ReportError("name one post or one link")
    _ = (translations or gettext.NullTranslations()).gettext
    posts = scope_posts(analytics, post, link)
    assert posts is not None
    if post is not None and post not in analytics.posts():
        posts = [post]  # no truck this period: a report that says so
    subject = post if post is not None else f"{analytics.country} – {link}"
    title = _("Analytics report") + f": {subject}, {analytics.period.label}"
    pdf = _pdf()
    pdf.set_title(title)
    pdf.set_subject(subject)
    pdf.set_creator("carec-edge centre")
    pdf.add_page()
    pdf.set_font(FONT, "B", 14)
    pdf.cell(0, 8, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 8)
    facts = [_("Generated") + f": {format_utc(utcnow())[:19]} UTC"]
    if link is not None:
        link_mode = analytics.links[link].mode.upper() if link in analytics.links else "—"
        facts.append(_("Mode") + f": {link_mode} · " + _("Posts") + f": {', '.join(posts) or '—'}")
    else:
        country = analytics.post_links.get(post or "")
        post_mode = analytics.mode_of_post(post or "") or "—"
        facts.append(_("Link") + f": {country or '—'} ({post_mode.upper()})")
    for line in facts:
        pdf.cell(0, 5, line, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)
    _summary(pdf, Figures.of(analytics.tally(posts)), _)
    if link is not None:
        table = posts_table(analytics)
        rows = tuple(r for r in table.rows if r[0] in posts)
        _table(pdf, Table(table.id, table.title, table.columns, rows), _)
    _table(pdf, lanes_table(analytics, posts), _)
    _table(pdf, discrepancies_table(analytics, posts), _)
    _table(pdf, days_table(analytics, posts), _)
    pdf.set_font(FONT, "", 7)
    pdf.multi_cell(0, 4, _(NOTE))
    return bytes(pdf.output())


def _summary(pdf: FPDF, figures: Figures, _: Callable[[str], str]) -> None:
    pdf.set_font(FONT, "B", 10)
    pdf.cell(0, 6, _("The period in figures"), new_x="LMARGIN", new_y="NEXT")
    pdf.set_font(FONT, "", 9)
    for column, read in FIGURES:
        text = format_cell(read(figures), column.kind) or _("no data")
        pdf.cell(95, 5, _(column.label))
        pdf.cell(0, 5, text, new_x="LMARGIN", new_y="NEXT")
    pdf.ln(2)


def _table(pdf: FPDF, table: Table, _: Callable[[str], str]) -> None:
    gettext_ = _
    pdf.set_font(FONT, "B", 10)
    pdf.cell(0, 7, gettext_(table.title), new_x="LMARGIN", new_y="NEXT")
    if not table.rows:
        pdf.set_font(FONT, "", 8)
        pdf.cell(0, 5, gettext_("No trucks in this period."), new_x="LMARGIN", new_y="NEXT")
        return
    pdf.set_font(FONT, "", 6)
    with pdf.table(text_align="RIGHT", line_height=3.2, first_row_as_headings=True) as grid:
        header = grid.row()
        for column in table.columns:
            header.cell(gettext_(column.label))
        for values in table.rows:
            row = grid.row()
            for value, column in zip(values, table.columns, strict=True):
                text = format_cell(value, column.kind) or "–"
                row.cell(gettext_(text) if column.id in ("lane", "figure") else text)
    pdf.ln(2)
