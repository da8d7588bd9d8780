"""Every text the analytics shows (its tables, the compared figures, the PDF report) is one the
console's catalogs extract, so it is translated like the console's own (checked by
tests/centre/test_console_i18n.py)."""

from __future__ import annotations

from centre.analytics import report, tables
from centre.analytics.collect import Analytics, Period
from centre.analytics.compare import METRICS
from centre.console.analytics_texts import TEXTS
from centre.console.catalogs import extract
from centre.console.i18n import Catalogs


def analytics_texts() -> set[str]:
    empty = Analytics(Period.month("2026-11"), "KZ", {})
    built = [
        tables.posts_table(empty), tables.links_table(empty), tables.modes_table(empty),
        tables.days_table(empty), tables.lanes_table(empty), tables.discrepancies_table(empty),
    ]  # fmt: skip
    texts = {t.title for t in built} | {c.label for t in built for c in t.columns}
    return texts | {label for _id, label, _read in METRICS} | set(report.TEXTS)


def test_every_analytics_text_is_in_the_consoles_catalogs_and_in_russian() -> None:
    assert analytics_texts() == set(TEXTS)
    assert set(TEXTS) <= extract()
    russian = Catalogs().gettext("ru")
    assert {text for text in TEXTS if russian.gettext(text) == text} == {"p90"} & set(TEXTS)
