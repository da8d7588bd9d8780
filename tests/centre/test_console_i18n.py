"""The console's catalogs: every text of its templates and code translated into Russian, and
the catalogs compiled in memory as the console starts (no .mo file anywhere)."""

from __future__ import annotations

from centre.console.catalogs import check, extract
from centre.console.i18n import LOCALE_DIR, Catalogs


def test_every_text_of_the_console_is_translated_into_russian() -> None:
    msgids = extract()
    assert "Quarantine" in msgids
    assert "Why discard it?" in msgids
    assert check() == []


def test_the_catalogs_compile_at_start_and_fall_back_to_english() -> None:
    catalogs = Catalogs("ru")
    assert catalogs.gettext("ru").gettext("Review queue") == "Очередь проверки"
    assert catalogs.gettext("en").gettext("Review queue") == "Review queue"
    assert catalogs.language("zz") == "ru"
    assert catalogs.gettext("ru").gettext("a text nobody wrote") == "a text nobody wrote"
    assert not list(LOCALE_DIR.rglob("*.mo"))
