"""Keeping the translations in step with the code: `python -m ui_kiosk.catalogs COMMAND`.

- `extract`: every msgid of the templates and of the Python code (`_()`, `N_()`, `gettext()`)
  into `locale/kiosk.pot`, and each language's `kiosk.po` updated from it (new msgids empty,
  gone ones marked obsolete);
- `check`: exit 1, naming them, when a catalog lacks a translation it must have: every msgid in
  Russian, the officer's main path in every language.

There is no compile step: the app compiles the .po files in memory when it starts
(`ui_kiosk.i18n`), so no .mo file is built, kept or shipped.

The same as pybabel: `pybabel extract -F ui_kiosk/babel.cfg -k N_ -o ui_kiosk/locale/kiosk.pot
ui_kiosk`, then `pybabel update -D kiosk -i ui_kiosk/locale/kiosk.pot -d ui_kiosk/locale`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po, write_po

from ui_kiosk.i18n import DOMAIN, LANGUAGES, LOCALE_DIR, po_path

PACKAGE = Path(__file__).parent
TEMPLATE = LOCALE_DIR / f"{DOMAIN}.pot"
METHODS = [("templates/**.html", "jinja2.ext:babel_extract"), ("**.py", "python")]
OPTIONS = {"templates/**.html": {"trimmed": "true"}}
KEYWORDS = {"_": None, "gettext": None, "N_": None}

# The officer's main path: logging in, the queue, a truck's page, deciding. Every language must
# translate what these show; Russian must translate everything.
MAIN_PATH_TEMPLATES = frozenset(
    {
        "templates/base.html",
        "templates/login.html",
        "templates/queue.html",
        "templates/_queue_rows.html",
        "templates/arrival.html",
        "templates/_arrival_live.html",
        "templates/_decision_form.html",
        "templates/_inspection_form.html",
        "templates/_corner.html",
        "templates/error.html",
        "texts.py",
    }
)
COMPLETE = frozenset({"en", "ru"})


def extract() -> dict[str, set[str]]:
    """msgid -> the files (relative to the package) that use it."""
    found: dict[str, set[str]] = {}
    for filename, _lineno, message, _comments, _context in extract_from_dir(
        PACKAGE, METHODS, OPTIONS, KEYWORDS
    ):
        if isinstance(message, str) and message:
            found.setdefault(message, set()).add(filename)
    return found


def main_path_msgids(found: dict[str, set[str]]) -> set[str]:
    return {msgid for msgid, files in found.items() if files & MAIN_PATH_TEMPLATES}


def read_catalog(code: str) -> Catalog:
    with po_path(code).open("rb") as po:
        return read_po(po, locale=code)


def missing(code: str, msgids: Iterable[str]) -> list[str]:
    """The msgids `code`'s catalog does not translate (absent, empty or fuzzy)."""
    return [] if code == "en" else missing_in(read_catalog(code), msgids)


def missing_in(catalog: Catalog, msgids: Iterable[str]) -> list[str]:
    out = []
    for msgid in sorted(msgids):
        message = catalog.get(msgid)
        if message is None or not message.string or message.fuzzy:
            out.append(msgid)
    return out


def write_template(found: dict[str, set[str]]) -> Catalog:
    template = Catalog(project="carec-edge kiosk", domain=DOMAIN)
    for msgid, files in sorted(found.items()):
        template.add(msgid, locations=[(f, 0) for f in sorted(files)])
    with TEMPLATE.open("wb") as out:
        write_po(out, template, omit_header=False, sort_output=True, include_lineno=False)
    return template


def update_catalogs(template: Catalog) -> None:
    for code in LANGUAGES:
        path = po_path(code)
        path.parent.mkdir(parents=True, exist_ok=True)
        if path.exists():
            catalog = read_catalog(code)
        else:
            catalog = Catalog(locale=code, domain=DOMAIN, project="carec-edge kiosk")
        catalog.update(template, update_header_comment=False)
        with path.open("wb") as out:
            write_po(out, catalog, sort_output=True, include_lineno=False, ignore_obsolete=True)


def check() -> list[str]:
    found = extract()
    main = main_path_msgids(found)
    problems = []
    for code in LANGUAGES:
        wanted = found.keys() if code in COMPLETE else main
        problems += [f"{code}: untranslated: {msgid!r}" for msgid in missing(code, wanted)]
    return problems


def main(argv: Sequence[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    command = args[0] if args else ""
    if command == "extract":
        update_catalogs(write_template(extract()))
        return 0
    if command == "check":
        problems = check()
        for problem in problems:
            print(problem, file=sys.stderr)
        return 1 if problems else 0
    print("usage: python -m ui_kiosk.catalogs extract|check", file=sys.stderr)
    return 2


if __name__ == "__main__":
    raise SystemExit(main())
