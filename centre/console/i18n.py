"""Languages: gettext catalogs under `locale/<lang>/LC_MESSAGES/console.po`.

As the kiosk does (`ui_kiosk.i18n`): the `.po` files are the only source, compiled in memory
when the console starts (Babel reads each and writes its `.mo` form into a buffer), so no
compiled catalog is kept, built or shipped. A msgid missing from a catalog shows in English.
"""

from __future__ import annotations

import gettext
from pathlib import Path

from centre.config import CONSOLE_LANGUAGES
from edge.web_pieces import compile_catalog

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "console"

# Each language by its name in itself.
LANGUAGES = CONSOLE_LANGUAGES


def N_(message: str) -> str:  # noqa: N802 - gettext's name: marks a msgid, translated later
    return message


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


class Catalogs:
    """Every language's translations, loaded once."""

    def __init__(self, default: str = "en") -> None:
        if default not in LANGUAGES:
            raise ValueError(f"default_language: {default!r} is not one of {', '.join(LANGUAGES)}")
        self.default = default
        self._translations: dict[str, gettext.NullTranslations] = {
            code: compile_catalog(po_path(code))
            if po_path(code).exists()
            else gettext.NullTranslations()
            for code in LANGUAGES
        }

    def language(self, code: str | None) -> str:
        return code if code is not None and code in LANGUAGES else self.default

    def gettext(self, code: str | None) -> gettext.NullTranslations:
        return self._translations[self.language(code)]
