"""Languages: gettext catalogs under `locale/<lang>/LC_MESSAGES/kiosk.po`, one per language.

The `.po` files are the only source: they are compiled in memory when the app starts (Babel
reads them and writes the `.mo` form into a buffer), so no compiled catalog is kept in the tree
and nothing has to be built first. A msgid missing from a catalog shows in English.
"""

from __future__ import annotations

import gettext
from dataclasses import dataclass
from pathlib import Path

from edge.web_pieces import compile_catalog

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "kiosk"


@dataclass(frozen=True)
class Language:
    code: str
    name: str  # in the language itself
    script_latin: bool


# The corridor's languages; Uzbek in its Latin alphabet, Chinese in simplified characters.
LANGUAGES = {
    lang.code: lang
    for lang in (
        Language("en", "English", True),
        Language("ru", "Русский", False),
        Language("kk", "Қазақша", False),
        Language("ky", "Кыргызча", False),
        Language("uz", "Oʻzbekcha", True),
        Language("tg", "Тоҷикӣ", False),
        Language("mn", "Монгол", False),
        Language("zh", "中文", False),
        Language("az", "Azərbaycanca", True),
    )
}


def po_path(code: str) -> Path:
    return LOCALE_DIR / code / "LC_MESSAGES" / f"{DOMAIN}.po"


class Catalogs:
    """Every language's translations, loaded once."""

    def __init__(self, default: str = "en") -> None:
        if default not in LANGUAGES:
            raise ValueError(f"default_language: {default!r} is not one of {', '.join(LANGUAGES)}")
        self.default = default
        self._translations: dict[str, gettext.NullTranslations] = {}
        for code in LANGUAGES:
            path = po_path(code)
            self._translations[code] = (
                compile_catalog(path) if path.exists() else gettext.NullTranslations()
            )

    def language(self, code: str | None) -> str:
        return code if code in LANGUAGES else self.default

    def gettext(self, code: str | None) -> gettext.NullTranslations:
        return self._translations[self.language(code)]
