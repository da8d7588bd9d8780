"""The console's catalogs (every text of its templates and code translated into Russian,
compiled in memory as the console starts: no .mo file anywhere) and its config section."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from centre.console.catalogs import check, extract
from centre.console.i18n import LOCALE_DIR, Catalogs
from centre.console.settings import ConsoleSettings


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


def test_a_console_section_with_an_unknown_language_or_half_a_tls_pair_is_refused() -> None:
    assert ConsoleSettings(default_language="ru").default_language == "ru"
    with pytest.raises(ValidationError, match="default_language"):
        ConsoleSettings(default_language="de")
    with pytest.raises(ValidationError, match="tls_cert and tls_key go together"):
        ConsoleSettings(tls_cert=Path("/etc/carec-edge/console.crt"))
    with pytest.raises(ValidationError, match="idle_timout_minutes"):
        ConsoleSettings.model_validate({"idle_timout_minutes": 5})
