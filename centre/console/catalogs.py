"""Keeping the translations in step with the code: `python -m centre.console.catalogs COMMAND`.

- `extract`: every msgid of the templates and of the Python code (`_()`, `N_()`) into
  `locale/console.pot`, and each language's `console.po` updated from it;
- `check`: exit 1, naming them, when a catalog other than English lacks a translation.

There is no compile step: the console compiles the .po files in memory when it starts.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from centre.console.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, po_path

PACKAGE = Path(__file__).parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"trimmed": "true"}}
KEYWORDS = {"_": None, "N_": None}


def extract() -> set[str]:
    return {
        message
        for _file, _line, message, _comments, _context in extract_from_dir(
            PACKAGE, METHODS, OPTIONS, KEYWORDS
        )
        if isinstance(message, str) and message
    }


def untranslated(code: str, msgids: set[str]) -> list[str]:
    with po_path(code).open("rb") as po:
        catalog = read_po(po, locale=code)
    out = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy:
            out.append(msgid)
    return out


def update_catalogs(msgids: set[str]) -> None:
    template = Catalog(project="carec-edge console", domain=DOMAIN)
    for msgid in sorted(msgids):
        template.add(msgid)
    with TEMPLATE.open("wb") as out:
        write_po(out, template, sort_output=True, include_lineno=False)
    for code in LANGUAGES:
        path = po_path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            with path.open("rb") as po:
                catalog = read_po(po, locale=code)
        else:
            catalog = Catalog(locale=code, domain=DOMAIN, project="carec-edge console")
        catalog.update(template, update_header_comment=False)
        with path.open("wb") as out:
            write_po(out, catalog, sort_output=True, include_lineno=False, ignore_obsolete=True)


def check() -> list[str]:
    msgids = extract()
    return [
        f"{code}: untranslated: {msgid!r}"
        for code in LANGUAGES
        if code != "en"
        for msgid in untranslated(code, msgids)
    ]


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["extract"]:
        update_catalogs(extract())
        return 0
    if args[:1] == ["check"]:
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m centre.console.catalogs extract|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
