"""Passports, ID cards and visas as the document reader sends their MRZ: the ICAO 9303 specimens
parse field by field, each broken check digit is named, and nothing but text that cannot be an
MRZ at all raises."""

from __future__ import annotations

import argparse
import datetime as dt
import io
import json
import re
import string
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.mrz import MrzFormat, MrzFormatError, MrzResult, check_digit, parse_mrz
from edge.cli import mrz_cmd
from edge.cli.context import CliContext

TODAY = dt.date(2025, 6, 1)

# ICAO Doc 9303 specimens: Part 4 (TD3), Part 5 (TD1), Part 6 (TD2), Part 7 (MRV-A, MRV-B).
TD3_SPECIMEN = (
    "P<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L898902C36UTO7408122F1204159ZE184226B<<<<<10",
)
TD1_SPECIMEN = (
    "I<UTOD231458907<<<<<<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)
TD2_SPECIMEN = (
    "I<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "D231458907UTO7408122F1204159<<<<<<<6",
)
MRV_A_SPECIMEN = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<<<<<<<<<",
    "L8988901C4XXX4009078F96121096ZE184226B<<<<<<",
)
MRV_B_SPECIMEN = (
    "V<UTOERIKSSON<<ANNA<MARIA<<<<<<<<<<<",
    "L8988901C4XXX4009078F9612109<<<<<<<<",
)
# A Kazakh passport of Щербакова Юлия Сергеевна, transliterated per ICAO 9303 Part 3
# (Щ -> SHCH, Ю -> IU, ИЙ -> II), with her IIN as the personal number.
KAZ_PASSPORT = (
    "P<KAZSHCHERBAKOVA<<IULIIA<SERGEEVNA<<<<<<<<<",
    "N123456785KAZ8503150F3109214850315400123<<42",
)
# TD1 with the 13-character number D231458901234: '<' where its check digit would be, the rest
# "1234" and the check digit "1" at the start of the optional data, then a filler.
TD1_LONG_NUMBER = (
    "I<UTOD23145890<12341<<<<<<<<<<",
    "7408122F1204159UTO<<<<<<<<<<<6",
    "ERIKSSON<<ANNA<MARIA<<<<<<<<<<",
)


def parse(lines: Sequence[str], today: dt.date = TODAY) -> MrzResult:
    return parse_mrz("\n".join(lines), today=today)


def changed(lines: Sequence[str], line: int, position: int, char: str) -> list[str]:
    """The lines with one character replaced (line and position 1-based, as ICAO counts)."""
    out = list(lines)
    text = out[line - 1]
    out[line - 1] = text[: position - 1] + char + text[position:]
    return out


def icao_digit(data: str) -> str:
    """The check digit, written apart from drivers.mrz: base 36 gives A=10..Z=35."""
    values = [0 if char == "<" else int(char, 36) for char in data]
    return str(sum(v * w for v, w in zip(values, [7, 3, 1] * len(data), strict=False)) % 10)


def build(
    mrz_format: MrzFormat,
    *,
    code: str = "P",
    state: str = "UTO",
    surname: str = "ERIKSSON",
    given_names: str = "ANNA<MARIA",
    number: str = "L898902C3",
    nationality: str = "UTO",
    birth: str = "740812",
    sex: str = "F",
    expiry: str = "120415",
    optional: str = "",
    optional_2: str = "",
    personal_number_check: str | None = None,
) -> list[str]:
    """The MRZ lines of a document with these fields, every check digit computed."""
    name = f"{surname}<<{given_names}" if given_names else surname
    sex_code = "<" if sex == "X" else sex
    if mrz_format is MrzFormat.TD1:
        line1 = f"{code:<<2}{state:<<3}{_number(number, optional, 15)}"
        line2 = f"{birth}{icao_digit(birth)}{sex_code}{expiry}{icao_digit(expiry)}"
        line2 += f"{nationality:<<3}{optional_2:<<11}"
        line2 += icao_digit(line1[5:30] + line2[0:7] + line2[8:15] + line2[18:29])
        return [line1, line2, f"{name:<<30}"]
    length = 44 if mrz_format in (MrzFormat.TD3, MrzFormat.MRV_A) else 36
    line1 = f"{code:<<2}{state:<<3}{name:<<{length - 5}}"
    line2 = f"{number:<<9}{icao_digit(f'{number:<<9}')}"
    if mrz_format is MrzFormat.TD2:
        line2 = _number(number, optional, 7)[:10]
    line2 += f"{nationality:<<3}{birth}{icao_digit(birth)}{sex_code}{expiry}{icao_digit(expiry)}"
    if mrz_format is MrzFormat.TD3:
        personal = f"{optional:<<14}"
        line2 += personal + (personal_number_check or icao_digit(personal))
    elif mrz_format is MrzFormat.TD2:
        line2 += _number(number, optional, 7)[10:]
    else:
        line2 += f"{optional:<<{length - 28}}"
    if mrz_format in (MrzFormat.TD2, MrzFormat.TD3):
        line2 += icao_digit(line2[0:10] + line2[13:20] + line2[21:])
    return [line1, line2]


def _number(number: str, optional: str, optional_width: int) -> str:
    """Document number, its check digit and the optional data after it (TD1, TD2)."""
    if len(number) <= 9:
        return f"{number:<<9}{icao_digit(f'{number:<<9}')}{optional:<<{optional_width}}"
    rest = f"{number[9:]}{icao_digit(number)}<{optional}"
    return f"{number[:9]}<{rest:<<{optional_width}}"


def test_check_digit_follows_the_icao_worked_examples() -> None:
    assert check_digit("520727") == "3"
    assert check_digit("AB2134<<<") == "5"
    assert check_digit("") == "0"
    assert check_digit("AB#1") is None


def test_icao_passport_specimen_reads_field_by_field() -> None:
    result = parse(TD3_SPECIMEN)
    assert result.valid
    assert result.format is MrzFormat.TD3
    assert (result.document_code, result.issuing_state, result.nationality) == ("P", "UTO", "UTO")
    assert (result.surname, result.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert (result.surname_mrz, result.given_names_mrz) == ("ERIKSSON", "ANNA<MARIA")
    assert result.document_number == "L898902C3"
    assert result.birth_date == dt.date(1974, 8, 12)
    assert result.expiry_date == dt.date(2012, 4, 15)
    assert result.sex == "F"
    assert result.optional_data == "ZE184226B"
    assert [(c.name, c.passed, c.found) for c in result.checks] == [
        ("document_number", True, "6"),
        ("birth_date", True, "2"),
        ("expiry_date", True, "9"),
        ("optional_data", True, "1"),
        ("composite", True, "0"),
    ]
    assert result.errors == ()
    assert result.lines == TD3_SPECIMEN


def test_icao_td1_id_card_specimen_reads_field_by_field() -> None:
    result = parse(TD1_SPECIMEN)
    assert result.valid
    assert result.format is MrzFormat.TD1
    assert result.document_code == "I"
    assert result.document_number == "D23145890"
    assert (result.surname, result.given_names) == ("ERIKSSON", "ANNA MARIA")
    assert (result.birth_date, result.expiry_date) == (dt.date(1974, 8, 12), dt.date(2012, 4, 15))
    assert (result.sex, result.nationality) == ("F", "UTO")
    assert (result.optional_data, result.optional_data_2) == ("", "")
    assert [c.name for c in result.checks] == [
        "document_number",
        "birth_date",
        "expiry_date",
        "composite",
    ]


def test_icao_td2_specimen_reads_field_by_field() -> None:
    result = parse(TD2_SPECIMEN)
    assert result.valid
    assert result.format is MrzFormat.TD2
    assert result.document_number == "D23145890"
    assert (result.surname_mrz, result.given_names_mrz) == ("ERIKSSON", "ANNA<MARIA")
    assert (result.birth_date, result.expiry_date) == (dt.date(1974, 8, 12), dt.date(2012, 4, 15))
    assert result.check("composite") is not None


@pytest.mark.parametrize(
    ("lines", "mrz_format"), [(MRV_A_SPECIMEN, MrzFormat.MRV_A), (MRV_B_SPECIMEN, MrzFormat.MRV_B)]
)
def test_icao_visa_specimens_have_no_composite_check(
    lines: Sequence[str], mrz_format: MrzFormat
) -> None:
    result = parse(lines)
    assert result.valid
    assert result.format is mrz_format
    assert (result.document_code, result.nationality) == ("V", "XXX")
    assert result.document_number == "L8988901C"
    assert (result.birth_date, result.expiry_date) == (dt.date(1940, 9, 7), dt.date(1996, 12, 10))
    assert [c.name for c in result.checks] == ["document_number", "birth_date", "expiry_date"]


def test_td1_document_number_over_nine_characters_continues_in_optional_data() -> None:
    result = parse(TD1_LONG_NUMBER)
    assert result.valid, result.to_dict()
    assert result.document_number == "D231458901234"
    assert result.optional_data == ""
    number_check = result.check("document_number")
    assert number_check is not None
    assert (number_check.found, number_check.expected) == ("1", icao_digit("D231458901234"))


def test_td1_long_document_number_with_a_wrong_digit_fails_its_check() -> None:
    result = parse(changed(TD1_LONG_NUMBER, 1, 17, "9"))  # ...1234 -> ...1934
    assert set(result.failed_checks) == {"document_number", "composite"}
    assert result.document_number == "D231458901934"


def test_kazakh_passport_keeps_the_transliterated_name_as_written() -> None:
    result = parse(KAZ_PASSPORT)
    assert result.valid, result.to_dict()
    assert (result.issuing_state, result.nationality) == ("KAZ", "KAZ")
    assert result.surname == "SHCHERBAKOVA"
    assert result.given_names_mrz == "IULIIA<SERGEEVNA"
    assert result.given_names == "IULIIA SERGEEVNA"
    assert result.document_number == "N12345678"
    assert result.optional_data == "850315400123"
    assert (result.birth_date, result.expiry_date) == (dt.date(1985, 3, 15), dt.date(2031, 9, 21))


# (what changes, specimen, line, position (1-based), new character, the checks that then fail)
ONE_CHANGE = [
    ("TD3 document number", TD3_SPECIMEN, 2, 2, "9", {"document_number", "composite"}),
    ("TD3 document number check", TD3_SPECIMEN, 2, 10, "7", {"document_number", "composite"}),
    ("TD3 birth date", TD3_SPECIMEN, 2, 15, "5", {"birth_date", "composite"}),
    ("TD3 expiry date", TD3_SPECIMEN, 2, 23, "3", {"expiry_date", "composite"}),
    ("TD3 personal number", TD3_SPECIMEN, 2, 31, "2", {"optional_data", "composite"}),
    ("TD3 personal number check", TD3_SPECIMEN, 2, 43, "2", {"optional_data", "composite"}),
    ("TD3 composite", TD3_SPECIMEN, 2, 44, "1", {"composite"}),
    ("TD3 nationality (no check covers it)", TD3_SPECIMEN, 2, 12, "S", set()),
    ("TD3 sex (no check covers it)", TD3_SPECIMEN, 2, 21, "M", set()),
    ("TD1 document number", TD1_SPECIMEN, 1, 7, "3", {"document_number", "composite"}),
    ("TD1 optional data 1", TD1_SPECIMEN, 1, 21, "1", {"composite"}),
    ("TD1 birth date", TD1_SPECIMEN, 2, 2, "5", {"birth_date", "composite"}),
    ("TD1 expiry date", TD1_SPECIMEN, 2, 10, "3", {"expiry_date", "composite"}),
    ("TD1 optional data 2", TD1_SPECIMEN, 2, 21, "1", {"composite"}),
    ("TD1 composite", TD1_SPECIMEN, 2, 30, "7", {"composite"}),
    ("TD2 document number", TD2_SPECIMEN, 2, 2, "3", {"document_number", "composite"}),
    ("TD2 birth date", TD2_SPECIMEN, 2, 15, "5", {"birth_date", "composite"}),
    ("TD2 expiry date", TD2_SPECIMEN, 2, 23, "3", {"expiry_date", "composite"}),
    ("TD2 optional data", TD2_SPECIMEN, 2, 31, "1", {"composite"}),
    ("TD2 composite", TD2_SPECIMEN, 2, 36, "7", {"composite"}),
    ("MRV-A document number", MRV_A_SPECIMEN, 2, 2, "9", {"document_number"}),
    ("MRV-A birth date", MRV_A_SPECIMEN, 2, 15, "1", {"birth_date"}),
    ("MRV-B expiry date", MRV_B_SPECIMEN, 2, 23, "7", {"expiry_date"}),
]


@pytest.mark.parametrize(
    ("lines", "line", "position", "char", "failing"),
    [pytest.param(*case[1:], id=case[0]) for case in ONE_CHANGE],
)
def test_one_changed_character_fails_exactly_the_checks_that_cover_it(
    lines: Sequence[str], line: int, position: int, char: str, failing: set[str]
) -> None:
    original = lines[line - 1][position - 1]
    assert original != char, "the case must change something"
    result = parse(changed(lines, line, position, char))
    assert set(result.failed_checks) == failing
    assert result.valid == (not failing)
    assert result.errors == ()


def test_failed_check_names_the_digit_found_and_the_digit_expected() -> None:
    result = parse(changed(TD3_SPECIMEN, 2, 20, "5"))
    check = result.check("birth_date")
    assert check is not None
    assert (check.passed, check.found, check.expected) == (False, "5", "2")


@pytest.mark.parametrize("check", ["0", "<"])
def test_empty_personal_number_may_have_0_or_filler_as_check_digit(check: str) -> None:
    result = parse(build(MrzFormat.TD3, optional="", personal_number_check=check))
    assert result.valid, result.to_dict()


def test_personal_number_with_a_filler_check_digit_fails() -> None:
    result = parse(build(MrzFormat.TD3, optional="ZE184226B", personal_number_check="<"))
    assert result.failed_checks == ("optional_data",)
    check = result.check("optional_data")
    assert check is not None
    assert (check.found, check.expected) == ("<", "1")


def test_garbage_in_the_name_is_an_error_naming_the_field_and_position() -> None:
    result = parse(changed(TD3_SPECIMEN, 1, 8, "#"))
    assert not result.valid
    assert result.failed_checks == ()
    assert [(e.field, e.message) for e in result.errors] == [
        ("name", "'#' at line 1 position 8: only A-Z and < belong here")
    ]


def test_garbage_in_the_document_number_fails_its_checks_without_an_expected_digit() -> None:
    result = parse(changed(TD3_SPECIMEN, 2, 3, "?"))
    assert [e.field for e in result.errors] == ["document_number"]
    assert set(result.failed_checks) == {"document_number", "composite"}
    check = result.check("document_number")
    assert check is not None
    assert check.expected is None


def test_digit_in_a_name_and_letter_in_a_date_are_errors() -> None:
    lines = changed(changed(TD3_SPECIMEN, 1, 10, "5"), 2, 16, "O")  # 0 misread as O
    result = parse(lines)
    assert [e.field for e in result.errors] == ["name", "birth_date"]
    assert result.birth_date is None
    assert "birth_date" in result.failed_checks


def test_impossible_date_with_correct_check_digits_is_an_error() -> None:
    result = parse(build(MrzFormat.TD3, birth="741332"))
    assert result.failed_checks == ()
    assert [str(e) for e in result.errors] == [
        "birth_date: 741332 at line 2 position 14 is not a date (YYMMDD)"
    ]
    assert result.birth_date is None


def test_unknown_birth_date_is_filled_with_fillers_and_still_valid() -> None:
    result = parse(build(MrzFormat.TD3, birth="<<<<<<"))
    assert result.valid, result.to_dict()
    assert result.birth_date is None


def test_unspecified_sex_is_x_and_a_strange_one_is_an_error() -> None:
    assert parse(build(MrzFormat.TD3, sex="X")).sex == "X"
    result = parse(build(MrzFormat.TD3, sex="Q"))
    assert result.sex is None
    assert [e.field for e in result.errors] == ["sex"]


@pytest.mark.parametrize(
    ("field", "yymmdd", "expected"),
    [
        ("birth", "740812", dt.date(1974, 8, 12)),
        ("birth", "000101", dt.date(2000, 1, 1)),
        ("birth", "250601", dt.date(2025, 6, 1)),  # born today
        ("birth", "250602", dt.date(1925, 6, 2)),  # tomorrow is in the future: a century ago
        ("expiry", "120415", dt.date(2012, 4, 15)),
        ("expiry", "351231", dt.date(2035, 12, 31)),
        ("expiry", "451231", dt.date(2045, 12, 31)),  # 20 years ahead
        ("expiry", "460101", dt.date(1946, 1, 1)),
    ],
)
def test_two_digit_years_get_the_sensible_century(
    field: str, yymmdd: str, expected: dt.date
) -> None:
    result = parse(build(MrzFormat.TD3, **{field: yymmdd}))
    assert result.valid
    assert (result.birth_date if field == "birth" else result.expiry_date) == expected


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "\n".join([TD3_SPECIMEN[0], TD3_SPECIMEN[1][:43]]),
            "line 2 has 43 characters, expected 44 for TD3",
        ),
        (
            "\n".join([*TD1_SPECIMEN[:2], TD1_SPECIMEN[2][:29]]),
            "line 3 has 29 characters, expected 30 for TD1",
        ),
        (
            "\n".join([TD2_SPECIMEN[0] + "<", TD2_SPECIMEN[1]]),
            "line 1 has 37 characters, expected 36 for TD2",
        ),
        (
            "\n".join([MRV_A_SPECIMEN[0] + "<", MRV_A_SPECIMEN[1]]),
            "line 1 has 45 characters, expected 44 for MRV-A",
        ),
        ("\n".join(["A" * 40, "B" * 40]), "lines of 40 and 40 characters"),
        ("P<UTOERIKSSON", "one line of 13 characters"),
        ("\n".join([*TD1_SPECIMEN, "<" * 30]), "4 lines"),
        ("", "the input is empty"),
        (" \r\n\t\n", "the input is empty"),
    ],
)
def test_text_that_cannot_be_an_mrz_raises_naming_the_problem(text: str, message: str) -> None:
    with pytest.raises(MrzFormatError, match=re.escape(message)):
        parse_mrz(text, today=TODAY)


@pytest.mark.parametrize("lines", [TD1_SPECIMEN, TD2_SPECIMEN, TD3_SPECIMEN])
def test_reader_sending_all_lines_without_separators_is_understood(lines: Sequence[str]) -> None:
    joined = parse_mrz("".join(lines), today=TODAY)
    assert joined.valid
    assert joined == parse(lines)


def test_reader_noise_whitespace_crlf_and_lower_case_are_forgiven() -> None:
    text = f"\r\n  {TD3_SPECIMEN[0].lower()}  \r\n\r\n\t{TD3_SPECIMEN[1].lower()}\r\n"
    result = parse_mrz(text, today=TODAY)
    assert result == parse(TD3_SPECIMEN)
    assert result.errors == ()


def test_lines_given_as_a_list_or_on_one_line_with_blanks_read_the_same() -> None:
    assert parse_mrz(list(TD2_SPECIMEN), today=TODAY) == parse(TD2_SPECIMEN)
    assert parse_mrz(" ".join(TD2_SPECIMEN), today=TODAY) == parse(TD2_SPECIMEN)


def test_to_dict_is_json_with_iso_dates_and_named_checks() -> None:
    data = json.loads(json.dumps(parse(changed(TD3_SPECIMEN, 2, 2, "9")).to_dict()))
    assert data["format"] == "TD3"
    assert data["valid"] is False
    assert (data["birth_date"], data["expiry_date"]) == ("1974-08-12", "2012-04-15")
    assert data["failed_checks"] == ["document_number", "composite"]
    assert data["checks"]["document_number"] == {
        "passed": False,
        "found": "6",
        "expected": icao_digit("L998902C3"),
    }
    assert data["checks"]["birth_date"]["passed"] is True
    assert data["errors"] == []
    assert data["lines"][1].startswith("L998902C3")


# ---- properties -----------------------------------------------------------------------------

MRZ_ALPHABET = string.ascii_uppercase + string.digits + "<" * 12
NOISE = "#é аО\t\r\n-"


@settings(max_examples=300)
@given(
    shape=st.sampled_from(
        [
            (30, 30, 30),
            (36, 36),
            (44, 44),
            (44, 43),
            (30, 30, 29),
            (90,),
            (72,),
            (88,),
            (36, 44),
            (3,),
        ]
    ),
    noisy=st.booleans(),
    today=st.dates(min_value=dt.date(1950, 1, 1), max_value=dt.date(2150, 12, 31)),
    data=st.data(),
)
def test_any_mrz_shaped_text_gives_a_result_or_a_format_error(
    shape: tuple[int, ...], noisy: bool, today: dt.date, data: st.DataObject
) -> None:
    alphabet = MRZ_ALPHABET + (NOISE if noisy else "")
    lines = [data.draw(st.text(alphabet, min_size=n, max_size=n)) for n in shape]
    outcome = parse_or_reason("\n".join(lines), today)
    if isinstance(outcome, MrzResult):
        json.dumps(outcome.to_dict())
        assert outcome.valid == (not outcome.errors and not outcome.failed_checks)
    else:
        assert outcome


@given(st.text())
def test_any_text_at_all_gives_a_result_or_a_format_error(text: str) -> None:
    outcome = parse_or_reason(text, TODAY)
    assert isinstance(outcome, MrzResult) or outcome


def parse_or_reason(text: str, today: dt.date) -> MrzResult | str:
    """The result, or the message of the MrzFormatError; any other exception fails the test."""
    try:
        return parse_mrz(text, today=today)
    except MrzFormatError as error:
        return str(error)


def _names(width: int) -> st.SearchStrategy[tuple[str, str]]:
    part = st.from_regex(r"[A-Z]{1,6}(<[A-Z]{1,6})?", fullmatch=True)
    given_names = st.one_of(st.just(""), part)
    return st.tuples(part, given_names).filter(lambda n: len(n[0]) + 2 + len(n[1]) <= width)


@st.composite
def documents(draw: st.DrawFn) -> tuple[MrzFormat, dict[str, Any]]:
    mrz_format = draw(st.sampled_from(list(MrzFormat)))
    name_width = {MrzFormat.TD1: 30, MrzFormat.TD2: 31, MrzFormat.MRV_B: 31}.get(mrz_format, 39)
    surname, given_names = draw(_names(name_width))
    longest_number = {MrzFormat.TD1: 13, MrzFormat.TD2: 14}.get(mrz_format, 9)
    number = draw(st.from_regex(rf"[A-Z0-9]{{1,{longest_number}}}", fullmatch=True))
    optional_width = {MrzFormat.TD1: 15, MrzFormat.TD2: 7, MrzFormat.TD3: 14}.get(
        mrz_format, 44 - 28 if mrz_format is MrzFormat.MRV_A else 36 - 28
    )
    if len(number) > 9:
        optional_width -= len(number) - 9 + 2  # the rest of the number, its check digit, a filler
    first = {MrzFormat.TD3: "P", MrzFormat.MRV_A: "V", MrzFormat.MRV_B: "V"}.get(mrz_format)
    code = draw(st.sampled_from([first] if first else ["I", "A", "C"]))
    code += draw(st.sampled_from(["", "D", "C", "P"]))
    country = st.from_regex(r"[A-Z]{1,3}", fullmatch=True)
    fields: dict[str, Any] = {
        "code": code,
        "state": draw(country),
        "surname": surname,
        "given_names": given_names,
        "number": number,
        "nationality": draw(country),
        "birth": draw(st.dates(dt.date(TODAY.year - 99, 1, 1), TODAY)),
        "sex": draw(st.sampled_from("MFX")),
        "expiry": draw(st.dates(dt.date(TODAY.year - 79, 1, 1), dt.date(TODAY.year + 20, 12, 31))),
        "optional": draw(st.from_regex(rf"[A-Z0-9]{{0,{optional_width}}}", fullmatch=True)),
        "optional_2": "",
    }
    if mrz_format is MrzFormat.TD1:
        fields["optional_2"] = draw(st.from_regex(r"[A-Z0-9]{0,11}", fullmatch=True))
    if mrz_format is MrzFormat.TD3 and not fields["optional"]:
        fields["personal_number_check"] = draw(st.sampled_from("0<"))
    return mrz_format, fields


@settings(max_examples=300)
@given(documents())
def test_any_valid_generated_mrz_reads_back_its_fields(
    document: tuple[MrzFormat, dict[str, Any]],
) -> None:
    mrz_format, fields = document
    lines = build(
        mrz_format,
        **fields | {"birth": f"{fields['birth']:%y%m%d}", "expiry": f"{fields['expiry']:%y%m%d}"},
    )
    result = parse(lines)
    assert result.valid, result.to_dict()
    assert result.format is mrz_format
    assert result.document_code == fields["code"]
    assert (result.issuing_state, result.nationality) == (fields["state"], fields["nationality"])
    assert (result.surname_mrz, result.given_names_mrz) == (
        fields["surname"],
        fields["given_names"],
    )
    assert result.given_names == fields["given_names"].replace("<", " ")
    assert result.document_number == fields["number"]
    assert (result.birth_date, result.expiry_date) == (fields["birth"], fields["expiry"])
    assert result.sex == fields["sex"]
    assert (result.optional_data, result.optional_data_2) == (
        fields["optional"],
        fields["optional_2"],
    )
    assert parse_mrz("".join(lines), today=TODAY) == result


# ---- the command ----------------------------------------------------------------------------


def mrz_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], text: str
) -> tuple[int, dict[str, Any]]:
    parser = argparse.ArgumentParser()
    mrz_cmd.register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(["mrz", "check"])
    monkeypatch.setattr(sys, "stdin", io.StringIO(text))
    status = args.handler(args, CliContext(config_path=None, data_dir_option=None))
    return status, json.loads(capsys.readouterr().out)


def test_mrz_check_prints_the_fields_and_exits_0_for_a_valid_passport(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = mrz_check(monkeypatch, capsys, "\n".join(KAZ_PASSPORT) + "\n")
    assert status == 0
    assert output["valid"] is True
    assert (output["surname"], output["given_names"]) == ("SHCHERBAKOVA", "IULIIA SERGEEVNA")
    assert output["birth_date"] == "1985-03-15"
    assert (output["failed_checks"], output["errors"]) == ([], [])


def test_mrz_check_exits_1_naming_the_failed_check(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = mrz_check(monkeypatch, capsys, "\n".join(changed(TD1_SPECIMEN, 2, 30, "7")))
    assert status == 1
    assert output["valid"] is False
    assert output["failed_checks"] == ["composite"]


def test_mrz_check_exits_1_with_a_json_error_for_text_that_is_no_mrz(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    status, output = mrz_check(monkeypatch, capsys, TD3_SPECIMEN[0] + "\n" + TD3_SPECIMEN[1][:43])
    assert status == 1
    assert output == {
        "valid": False,
        "error": "not an MRZ: line 2 has 43 characters, expected 44 for TD3",
    }


def test_carec_edge_mrz_check_reads_stdin() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "edge.cli", "mrz", "check"],
        input="\n".join(TD3_SPECIMEN), capture_output=True, text=True, check=False, timeout=120,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["document_number"] == "L898902C3"


def test_reader_rejects_say_how_long_a_line_was_never_what_it_held() -> None:
    """A cut or noisy MRZ line still carries a name and a number; the reasons are logged at
    WARNING (device.reject), so they give lengths only."""
    from drivers.mrz_reader import MrzReaderConfig, MrzReaderProtocol

    protocol = MrzReaderProtocol(MrzReaderConfig(id="passport-1", port="/dev/null"))
    cut = TD3_SPECIMEN[0][:40]  # the reader lost the end of the name line
    noisy = "#~" + TD3_SPECIMEN[1]  # line noise glued before the number line
    fed = f"{TD3_SPECIMEN[0]}\r{cut}\r\r{noisy}\r\r".encode()
    rejects = protocol.feed(fed).rejects
    assert any(r.startswith("not an MRZ line (40 characters)") for r in rejects), rejects
    assert any(r.startswith("line noise before an MRZ line dropped") for r in rejects), rejects
    assert any(r.startswith("incomplete MRZ") for r in rejects), rejects
    fragments = ("ERIKSSON", "ANNA", "L898902C3", "7408122", "#~")
    leaked = [r for r in rejects for f in fragments if f in r]
    assert leaked == [], leaked
