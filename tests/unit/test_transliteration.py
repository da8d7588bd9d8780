"""One table of each: Cyrillic for keys and Cyrillic for display (edge.transliteration), and
the OCR confusions that keys fold and the plate reader's ranking repairs (edge.plates)."""

from __future__ import annotations

import itertools

import pytest

from drivers.plates.ranking import Read, rank
from edge.plates import KEY_FOLDS, OCR_CONFUSIONS, canonical_key, retrieval_key, written_key
from edge.transliteration import CYRILLIC_LOOKALIKES, KEY_TRANSLIT, NAME_TRANSLIT
from ui_kiosk.translit import name_latin, plate_latin

# Keys as the tables before their merge made them (commit ad714f6), for plates that use every
# letter of the key tables and every fold. Retrieval keys are stored in
# manifest_plates.retrieval_key: a table change that alters one of these needs a migration.
STORED_KEYS = [
    # plate, canonical key, retrieval key, written key
    ("Ө 123 АВС", "OE123ABC", "0E123A8C", "Ө123ABC"),
    ("01 KZ 777 ABD", "01KZ777ABD", "01K2111A80", "01KZ777ABD"),
    ("УБ 1234 ӨҮ", "YB1234OEUE", "Y812340EUE", "YБ1234ӨҮ"),
    ("ЖЩЯ 5SZ8", "ZHSCHYA5SZ8", "2H5CHYA5528", "ЖЩЯ5SZ8"),
    ("0OD-Q 1I7 2Z 5S 8B 6G", "0ODQ1I72Z5S8B6G", "000011122558866", "0ODQ1I72Z5S8B6G"),
    ("ҚҒҢ ҰҺІ ӢӮҲ ҶҘҠ ӘЁЮ", "QGHNGUHIIUHJZQAEYOYU", "06HN6UH11UHJ20AEY0YU", "ҚҒҢҰҺІӢӮҲҶҘҠӘЁЮ"),
    ("京A·12345", "京A12345", "A12345", "京A12345"),
    ("ЪЬЫЭ ФЦЧШ", "YEFTSCHSH", "YEFT5CH5H", "ЪЬЫЭФЦЧШ"),
    ("БГДЗ ИЙЛП", "BGDZIJLP", "86021JLP", "БГДЗИЙЛП"),
    ("ＡＢ１２", "AB12", "A812", "AB12"),
]


@pytest.mark.parametrize(("plate", "canonical", "retrieval", "written"), STORED_KEYS)
def test_stored_plate_keys_keep_their_values(
    plate: str, canonical: str, retrieval: str, written: str
) -> None:
    assert (canonical_key(plate), retrieval_key(plate), written_key(plate)) == (
        canonical,
        retrieval,
        written,
    )


def test_the_golden_plates_use_every_letter_of_the_key_tables() -> None:
    letters = set("".join(plate for plate, *_ in STORED_KEYS))

    assert set(KEY_TRANSLIT) - letters == set()
    assert set(CYRILLIC_LOOKALIKES) - letters <= set("ЕКМНОРТХ")  # twins: one Latin letter each


def test_a_key_tells_mongolian_oe_from_o_where_a_name_shown_in_latin_does_not() -> None:
    # For keys Ө is OE: a plate with Ө never matches the plate with О in its place.
    assert canonical_key("Ө 1234 УБ") == "OE1234YB"
    assert canonical_key("Ө 1234 УБ") != canonical_key("О 1234 УБ")
    # For display a name follows its passport (ICAO 9303): Ө is O.
    assert name_latin("Өлзий Батбаяр") == "Olzii Batbaiar"
    assert NAME_TRANSLIT["Ө"] == "O"
    assert KEY_TRANSLIT["Ө"] == "OE"


def test_a_cyrillic_plates_latin_line_typed_into_search_finds_the_plate() -> None:
    cyrillic = [plate for plate, *_ in STORED_KEYS if any("Ѐ" <= ch <= "ӿ" for ch in plate)]
    for plate in cyrillic:
        latin = plate_latin(plate)
        assert latin is not None
        assert latin.isascii(), latin
        assert retrieval_key(latin) == retrieval_key(plate), (plate, latin)
    assert plate_latin("Ө 123 АВ") == "OE 123 AB"


def test_every_fold_of_a_key_is_an_ocr_confusion_both_ways() -> None:
    for group in KEY_FOLDS:
        for one, other in itertools.permutations(group, 2):
            assert other in OCR_CONFUSIONS.get(one, ""), (one, other)


def test_the_ranking_repairs_a_read_with_the_same_confusions() -> None:
    # "7" read where a KZ plate's letter is: the first letter it is mistaken for is T.
    assert OCR_CONFUSIONS["7"][0] == "T"

    guesses = {guess.key: guess for guess in rank([Read("777A7C02", 0.9, "ppocr")])}

    assert guesses["777ATC02"].format == "KZ private (2012)"
