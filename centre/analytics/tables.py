"""The tables the pages, the CSV files and the PDF report show, built once from one `Analytics`:
every rendering reads the same cells. A cell is a number, a text or None (no data)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from centre.analytics.collect import LANES, Analytics
from centre.analytics.compare import compare
from centre.analytics.figures import Figures, Tally
from centre.console.i18n import N_

Cell = int | float | str | None


@dataclass(frozen=True)
class Column:
    id: str  # the CSV header
    label: str  # translated when shown
    kind: str = "text"  # text, int, pct, s (seconds), h (hours), diff


@dataclass(frozen=True)
class Table:
    id: str
    title: str  # translated when shown
    columns: tuple[Column, ...]
    rows: tuple[tuple[Cell, ...], ...]

    def column(self, id: str) -> list[Cell]:
        index = [c.id for c in self.columns].index(id)
        return [row[index] for row in self.rows]


_Read = Callable[[Figures], Cell]
FIGURES: tuple[tuple[Column, _Read], ...] = (
    (Column("trucks", N_("Trucks"), "int"), lambda f: f.trucks),
    (Column("coverage_pct", N_("Pre-arrival %"), "pct"), lambda f: f.coverage_pct),
    (Column("match_pct", N_("Matched %"), "pct"), lambda f: f.match_pct),
    (Column("ambiguous_pct", N_("Ambiguous %"), "pct"), lambda f: f.ambiguous_pct),
    (Column("changed_pct", N_("Other record chosen %"), "pct"), lambda f: f.changed_pct),
    (Column("discrepancy_pct", N_("With discrepancies %"), "pct"), lambda f: f.discrepancy_pct),
    (Column("decided", N_("Decided"), "int"), lambda f: f.decided),
    (Column("decision_median_s", N_("To decision, median (s)"), "s"),
     lambda f: f.decision_median_s),
    (Column("decision_p90_s", N_("To decision, p90 (s)"), "s"), lambda f: f.decision_p90_s),
    (Column("inspections", N_("Inspections"), "int"), lambda f: f.inspections),
    (Column("inspection_pct", N_("Inspected %"), "pct"), lambda f: f.inspection_pct),
    (Column("hit_pct", N_("Inspection hit rate %"), "pct"), lambda f: f.hit_pct),
    (Column("exit_confirmations", N_("Exit confirmations"), "int"),
     lambda f: f.exit_confirmations),
    (Column("exit_lead_median_h", N_("Exit confirmation before arrival, median (h)"), "h"),
     lambda f: f.exit_lead_median_h),
)  # fmt: skip
FIGURE_COLUMNS = tuple(column for column, _read in FIGURES)


def figure_cells(tally: Tally) -> tuple[Cell, ...]:
    figures = Figures.of(tally)
    return tuple(read(figures) for _column, read in FIGURES)


def posts_table(analytics: Analytics) -> Table:
    columns = (
        Column("post", N_("Post")), Column("link", N_("Link")), Column("mode", N_("Mode")),
        *FIGURE_COLUMNS,
    )  # fmt: skip
    rows = tuple(
        (post, analytics.post_links.get(post), analytics.mode_of_post(post),
         *figure_cells(analytics.tally([post])))
        for post in analytics.posts()
    )  # fmt: skip
    return Table("posts", N_("Posts"), columns, rows)


def links_table(analytics: Analytics) -> Table:
    countries = sorted(set(analytics.links) | {c for c in analytics.post_links.values() if c})
    columns = (Column("link", N_("Link")), Column("mode", N_("Mode")),
               Column("posts", N_("Posts"), "int"), *FIGURE_COLUMNS)  # fmt: skip
    rows = []
    for country in countries:
        posts = analytics.posts_of_link(country)
        link = analytics.links.get(country)
        rows.append((country, link.mode if link else None, len(posts),
                     *figure_cells(analytics.tally(posts))))  # fmt: skip
    return Table("links", N_("Partner links"), columns, tuple(rows))


def days_table(analytics: Analytics, posts: Sequence[str] | None = None) -> Table:
    """Per day and lane (only the days and lanes with trucks) for `posts` (None: all)."""
    columns = (Column("day", N_("Day")), Column("lane", N_("Lane")), *FIGURE_COLUMNS)
    rows = []
    for day in analytics.period.days():
        for lane in LANES:
            tally = analytics.tally(posts, day, lane)
            if tally.trucks:
                rows.append((day.isoformat(), lane, *figure_cells(tally)))
    return Table("days", N_("Per day and lane"), columns, tuple(rows))


def lanes_table(analytics: Analytics, posts: Sequence[str] | None = None) -> Table:
    columns = (Column("lane", N_("Lane")), *FIGURE_COLUMNS)
    rows = tuple((lane, *figure_cells(analytics.tally(posts, lane=lane))) for lane in LANES)
    return Table("lanes", N_("Per lane"), columns, rows)


def discrepancies_table(analytics: Analytics, posts: Sequence[str] | None = None) -> Table:
    tally = analytics.tally(posts)
    columns = (Column("code", N_("Discrepancy")), Column("trucks", N_("Trucks"), "int"),
               Column("share_pct", N_("Of all trucks %"), "pct"))  # fmt: skip
    rows = tuple(
        (code, n, 100.0 * n / tally.trucks if tally.trucks else None)
        for code, n in sorted(tally.discrepancies.items(), key=lambda item: (-item[1], item[0]))
    )
    return Table("discrepancies", N_("Discrepancies by code"), columns, rows)


def modes_table(analytics: Analytics) -> Table:
    columns = (
        Column("figure", N_("Figure")), Column("sie", N_("SIE (mean per day)"), "diff"),
        Column("sie_days", N_("SIE days"), "int"), Column("cie", N_("CIE (mean per day)"), "diff"),
        Column("cie_days", N_("CIE days"), "int"),
        Column("difference", N_("Difference (CIE − SIE)"), "diff"),
        Column("low", N_("Low end (95%)"), "diff"),
        Column("high", N_("High end (95%)"), "diff"),
    )  # fmt: skip
    rows = tuple(
        (c.label, c.sie, c.sie_days, c.cie, c.cie_days, c.difference, c.low, c.high)
        for c in compare(analytics)
    )
    return Table("modes", N_("SIE against CIE"), columns, rows)


TABLE_NAMES = ("posts", "links", "modes", "days", "lanes", "discrepancies")


def table_named(analytics: Analytics, name: str, post: str | None, link: str | None) -> Table:
    """One of TABLE_NAMES; `days`, `lanes` and `discrepancies` for one post or link's posts."""
    posts = scope_posts(analytics, post, link)
    if name == "posts":
        return posts_table(analytics)
    if name == "links":
        return links_table(analytics)
    if name == "modes":
        return modes_table(analytics)
    if name == "days":
        return days_table(analytics, posts)
    if name == "lanes":
        return lanes_table(analytics, posts)
    if name == "discrepancies":
        return discrepancies_table(analytics, posts)
    raise KeyError(name)


def scope_posts(analytics: Analytics, post: str | None, link: str | None) -> list[str] | None:
    """The posts a report or page covers: one post, the posts of one link, or all (None)."""
    if post is not None:
        return [post]
    if link is not None:
        return analytics.posts_of_link(link)
    return None


def format_cell(value: Cell, kind: str) -> str:
    """A cell as every rendering writes it ("" for no data; the pages say so in words)."""
    if value is None:
        return ""
    if kind == "int" and isinstance(value, int | float):
        return str(int(value))
    if kind == "s" and isinstance(value, int | float):
        return f"{value:.0f}"
    if kind in ("pct", "h", "diff") and isinstance(value, int | float):
        return f"{value:.1f}"
    return str(value)
