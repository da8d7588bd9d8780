"""Reads become plate candidates: normalised, fitted to the formats, repaired, pooled."""

from __future__ import annotations

import numpy as np
import pytest

from drivers.plates.ctc import ctc_candidates
from drivers.plates.ranking import Read, interpretations, plate_key, rank


def test_a_key_ignores_case_separators_and_the_script_of_look_alike_letters() -> None:
    assert plate_key("777 abc-02") == "777ABC02"
    assert plate_key("А 123 ВС 77") == plate_key("A123BC77") == "A123BC77"
    assert plate_key("1234 УБӨ") == "1234YБӨ"  # Б and Ө have no Latin twin
    assert plate_key("新A·12345") == "新A12345"


def test_a_read_that_fits_a_format_is_written_as_the_plate_is_with_its_country() -> None:
    (best,) = rank([Read("777ABC02", 0.9, "own")], k=1)
    assert (best.written, best.country, best.format) == ("777 ABC 02", "KZ", "KZ private (2012)")
    (mongolian,) = rank([Read("1234YБӨ", 0.9, "own")], k=1)
    assert (mongolian.written, mongolian.country) == ("1234 УБӨ", "MN")
    (russian,) = rank([Read("A123BC77", 0.9, "own")], k=1)
    assert russian.written == "А 123 ВС 77"  # Cyrillic on a Cyrillic plate
    assert russian.country == "RU"
    (chinese,) = rank([Read("新A12345", 0.9, "ppocr")], k=1)
    assert (chinese.written, chinese.country) == ("新A·12345", "CN")


def test_a_letter_read_where_the_format_needs_a_digit_is_repaired_and_wins() -> None:
    guesses = rank([Read("777ABCO2", 0.9, "ppocr")])
    assert guesses[0].key == "777ABC02"
    assert guesses[0].country == "KZ"
    assert guesses[0].score > guesses[1].score
    assert "777ABCO2" in [i.text for i in interpretations("777ABCO2")]  # kept, lower


def test_a_country_band_read_with_the_plate_is_cut_off() -> None:
    assert rank([Read("2580YHU02", 0.9, "ppocr")])[0].written == "580 YHU 02"  # "KZ" band
    assert rank([Read("A123BC77RUS", 0.9, "ppocr")])[0].written == "А 123 ВС 77"


def test_a_plate_of_no_known_format_is_kept_as_read_with_its_digit_reading_below() -> None:
    # no labelling convention decides a plate we know nothing of: its O and I stay letters;
    # the reading with O as 0 and I as 1 beside a digit is offered below it
    (best, second, *_) = rank([Read("OSG-7I9", 0.9, "ppocr")])
    assert (best.key, best.country) == ("OSG7I9", None)
    assert second.key == "0SG719"
    assert second.score < best.score


def test_a_half_of_a_chinese_plate_is_no_foreign_plate() -> None:
    # the bottom line of a two-line trailer plate read alone, surely, against the whole plate
    # read less surely: Han characters are on corridor plates only
    guesses = rank([Read("2410挂", 0.99, "own"), Read("新N2410挂", 0.3, "own")])
    assert guesses[0].written == "新N·2410挂"
    assert guesses[0].country == "CN"


def test_a_plate_read_cut_short_loses_to_the_whole_plate_that_fits_a_format() -> None:
    # "P726RC" from a box that stopped at the boxed region code, surely; "80P726RC" (UZ) less so
    guesses = rank([Read("P726RC", 0.9, "own"), Read("80P726RC", 0.5, "own")])
    assert (guesses[0].written, guesses[0].country) == ("80 P 726 RC", "UZ")
    # with nothing whole beside it, the same read stays a plate of no known format
    assert rank([Read("P726RC", 0.9, "own")])[0].key == "P726RC"


def test_a_region_code_no_one_issues_makes_a_fit_less_likely() -> None:
    # a Kazakh legal entity's plate with its flag band read as an "8": as read it has the shape
    # of a Tajik plate, but Tajikistan issues no region 12
    assert rank([Read("8747WW12", 0.9, "own")])[0].written == "747 WW 12"
    (tajik,) = rank([Read("8747WW08", 0.9, "own")], k=1)  # 08 is issued (Dushanbe's RRP)
    assert (tajik.written, tajik.country) == ("8747 WW 08", "TJ")


def test_a_russian_region_box_read_alone_is_no_plate() -> None:
    # the box of "Н 215 ХА 63" read alone ("63" over "RUS") against the plate read less surely
    guesses = rank([Read("63RUS", 0.95, "own"), Read("H215XA63", 0.4, "own")])
    assert guesses[0].written == "Н 215 ХА 63"


def test_a_mongolian_letter_read_on_a_latin_plate_is_repaired_to_its_look_alike() -> None:
    (best, *_) = rank([Read("777ӨҮB02", 0.9, "own")])
    assert (best.written, best.country) == ("777 OYB 02", "KZ")


def test_captions_dates_and_phone_numbers_lose_to_a_plate() -> None:
    reads = [
        Read("2014-06-16 06:46:42", 0.99, "ppocr"),
        Read("686-257-2071", 0.99, "ppocr"),
        Read("HEATING & COOLING", 0.99, "ppocr"),
        Read("6HP995", 0.8, "ppocr"),
    ]
    assert rank(reads)[0].key == "6HP995"
    # a company name on the cab, its O read as 0 as well: still a word, not a plate
    caption = [
        Read("ASIACARGO", 0.85, "own"), Read("ASIACARG0", 0.1, "own"),
        Read("ASIACARGO", 0.98, "ppocr"),
    ]  # fmt: skip
    assert rank([*caption, Read("6U506FU", 0.5, "own")])[0].key == "6U506FU"


def test_readers_that_agree_are_surer_than_either_alone() -> None:
    alone = rank([Read("777ABC02", 0.6, "own")])[0]
    both = rank([Read("777ABC02", 0.6, "own"), Read("777 ABC 02", 0.6, "ppocr")])[0]
    assert both.score > alone.score
    assert both.confidence > alone.confidence
    assert both.confidence <= 1.0


def test_a_reads_confidence_is_the_readers_and_its_score_weighs_the_format() -> None:
    (plate,) = rank([Read("777ABC02", 0.9, "own")], k=1)
    (unknown,) = rank([Read("6HP995", 0.9, "ppocr")], k=1)
    assert plate.confidence == unknown.confidence == pytest.approx(0.9)
    assert plate.score > unknown.score


def test_more_than_two_repairs_are_not_a_plate_of_that_format() -> None:
    keys = [i.text for i in interpretations("7ZZABCOZ") if i.format is not None]
    assert "722ABC02" not in keys  # three repairs


def _steps(*rows: dict[int, float], classes: int = 4) -> np.ndarray:
    out = np.zeros((len(rows), classes), np.float32)
    for i, row in enumerate(rows):
        for c, p in row.items():
            out[i, c] = p
    return out


def test_ctc_needs_a_blank_between_a_repeated_character() -> None:
    alphabet = ["", "A", "B", "C"]
    held = _steps({1: 1.0}, {1: 1.0}, {0: 1.0})
    assert ctc_candidates(held, alphabet)[0] == ("A", pytest.approx(1.0))
    repeated = _steps({1: 1.0}, {0: 1.0}, {1: 1.0})
    assert ctc_candidates(repeated, alphabet)[0] == ("AA", pytest.approx(1.0))


def test_ctc_candidates_sum_alignments_and_are_sorted() -> None:
    alphabet = ["", "A", "B", "C"]
    probabilities = _steps({1: 0.6, 2: 0.4}, {0: 0.5, 1: 0.3, 3: 0.2}, {0: 1.0})
    found = ctc_candidates(probabilities, alphabet, k=5)
    texts = dict(found)
    # "A" comes from A-blank and A-A: 0.6*0.5 + 0.6*0.3
    assert texts["A"] == pytest.approx(0.48)
    assert texts["B"] == pytest.approx(0.2)
    assert [p for _, p in found] == sorted((p for _, p in found), reverse=True)
    assert sum(texts.values()) == pytest.approx(1.0)


def test_time_stamps_and_dates_are_never_plates() -> None:
    reads = [Read("2014-05-13", 0.99, "ppocr"), Read("06:45:07", 0.99, "ppocr")]
    assert rank([*reads, Read("WSG979", 0.6, "ppocr")])[0].key == "WSG979"
    assert rank(reads) == []


def test_an_o_where_a_corridor_plate_has_a_digit_is_that_plate_misread() -> None:
    # `80-SG-719` (AZ) with its 0 read as O: the corridor plate, repaired, before the read
    (best, *rest) = rank([Read("8OSG719", 0.9, "ppocr")])
    assert (best.key, best.country) == ("80SG719", "AZ")
    assert "8OSG719" in [g.key for g in rest]


def test_a_visiting_trucks_plate_is_read_in_its_own_format_and_country() -> None:
    # Lithuanian letters include O, so its plate keeps it; Turkish and German plates are told
    (lithuanian, *_) = rank([Read("OSG 719", 0.9, "ppocr")])
    assert (lithuanian.key, lithuanian.country) == ("OSG719", "LT")
    (turkish, *_) = rank([Read("34ABC12", 0.9, "own")])
    assert (turkish.written, turkish.country) == ("34 ABC 12", "TR")
    # a corridor plate stays a corridor plate; a visitor's format never takes a cut read
    assert rank([Read("777ABC02", 0.9, "own")])[0].country == "KZ"
    assert rank([Read("6HP995", 0.9, "ppocr")])[0].key == "6HP995"
    # the star ring of an EU band read as a Han character is cut off
    assert rank([Read("甘HB163", 0.9, "own")])[0].key == "HB163"
    assert rank([Read("甘HBFS63", 0.9, "own")])[0].key == "HBFS63"  # no Chinese serial
    assert rank([Read("6XIU641", 0.9, "ppocr")])[0].key == "6XIU641"  # I among letters
    # an I beside a digit stays an I: the plate is `4PCI264` (a US plate; its 1 reading is
    # offered below it)
    assert [g.key for g in rank([Read("4PCI264", 0.9, "ppocr")])] == ["4PCI264", "4PC1264"]
    # the emblem is at the plate's left: a Han character at its right end is a Chinese
    # trailer's 挂, so a TIR sign read with a trailer plate's bottom line is no German plate
    (guess, *_) = rank([Read("TIR2713挂", 0.9, "own")])
    assert guess.country != "DE"
