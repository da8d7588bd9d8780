"""Languages: each officer's pages in their language, remembered; every catalog complete where
it must be, with its placeholders intact."""

from __future__ import annotations

import re

import pytest

from tests.kiosk.conftest import Kiosk
from ui_kiosk import catalogs
from ui_kiosk.i18n import LANGUAGES, Catalogs, compile_catalog, po_path

PLACEHOLDER = re.compile(r"%\(\w+\)s")


def test_a_russian_officers_pages_are_in_russian(kiosk: Kiosk) -> None:
    arrival_id = kiosk.arrive()
    kiosk.login("olga")
    queue = kiosk.client.get("/queue").text
    assert '<html lang="ru">' in queue
    assert "Грузовики, ожидающие решения" in queue
    assert "Trucks awaiting a decision" not in queue
    truck = kiosk.client.get(f"/arrivals/{arrival_id}").text
    assert "Предварительная информация" in truck
    assert "Выпустить" in truck
    assert "Release" not in truck


def test_an_officer_changes_language_and_it_is_remembered(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    response = kiosk.client.post(
        "/language", data={"language": "kk", "next": "/queue", "csrf_token": csrf},
        follow_redirects=False,
    )  # fmt: skip
    assert response.headers["location"] == "/queue?done=language"
    officer = kiosk.officers.get("ivan")
    assert officer is not None
    assert officer.language == "kk"
    kiosk.login("ivan")  # a new session: the language came from the store
    assert "Шешім күтіп тұрған жүк көліктері" in kiosk.client.get("/queue").text


def test_an_unknown_language_is_ignored(kiosk: Kiosk) -> None:
    csrf = kiosk.login("ivan")
    kiosk.client.post("/language", data={"language": "xx", "csrf_token": csrf})
    assert kiosk.officers.get("ivan").language == "en"  # type: ignore[union-attr]


def test_the_login_page_speaks_the_language_asked_for(kiosk: Kiosk) -> None:
    assert "Кіру" in kiosk.client.get("/login?lang=kk").text
    assert "登录" in kiosk.client.get("/login?lang=zh").text
    assert "Log in" in kiosk.client.get("/login?lang=xx").text


def test_every_msgid_is_translated_in_russian() -> None:
    found = catalogs.extract()
    assert len(found) > 100  # extraction found the templates and the code
    assert catalogs.missing("ru", found) == []


@pytest.mark.parametrize("code", sorted(set(LANGUAGES) - {"en", "ru"}))
def test_the_officers_main_path_is_translated(code: str) -> None:
    main = catalogs.main_path_msgids(catalogs.extract())
    for msgid in ("Log in", "Trucks awaiting a decision", "Decide", "Release", "Red"):
        assert msgid in main
    assert catalogs.missing(code, main) == []


def test_a_missing_empty_or_fuzzy_translation_is_noticed() -> None:
    catalog = catalogs.read_catalog("ru")
    assert catalogs.missing_in(catalog, ["Decide", "Release", "Red"]) == []
    catalog.delete("Decide")
    catalog["Release"].string = ""
    catalog["Red"].flags.add("fuzzy")
    assert catalogs.missing_in(catalog, ["Decide", "Release", "Red"]) == [
        "Decide",
        "Red",
        "Release",
    ]


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_translations_keep_their_placeholders(code: str) -> None:
    for message in catalogs.read_catalog(code):
        if message.id and message.string:
            assert sorted(PLACEHOLDER.findall(str(message.id))) == sorted(
                PLACEHOLDER.findall(str(message.string))
            ), (code, message.id)


@pytest.mark.parametrize("code", sorted(LANGUAGES))
def test_every_catalog_compiles(code: str) -> None:
    translations = compile_catalog(po_path(code))
    if code != "en":
        assert translations.gettext("Decide") != "Decide"


def test_no_compiled_catalog_is_kept_in_the_tree() -> None:
    assert not list(po_path("ru").parent.parent.parent.glob("*/LC_MESSAGES/*.mo"))


def test_the_default_language_must_be_one_of_the_catalogs() -> None:
    with pytest.raises(ValueError, match="default_language"):
        Catalogs("fr")
