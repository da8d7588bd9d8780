"""Real plates of the corridor: each fits its country's grammar in any writing, keeps its identity
through canonical keys across scripts, and survives camera noise in its retrieval key."""

from __future__ import annotations

import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from rapidfuzz.distance import Levenshtein

from edge.matching import plate_similarity
from edge.plate_formats import (
    BY_REGIONS,
    DE_COUNTY_DISTRICTS,
    DE_DISTRICTS,
    FORMATS,
    PL_COUNTY_DISTRICTS,
    PL_DISTRICTS,
    TR_PROVINCES,
    UA_REGIONS,
    VISITOR_FORMATS,
    PlateFormat,
    bottom_line_formats,
    cyrillic_writing,
    formats_for,
    has_only_twin_letters,
    latin_writing,
    match_formats,
    match_visitor_formats,
    visitor_formats_for,
)
from edge.plates import canonical_key, retrieval_key, written_key
from edge.synthetic import ocr_noise

# (format name, plate as written, another writing of the same plate)
REAL_PLATES = [
    ("KZ private (2012)", "777 ABC 02", "777АВС02"),
    ("KZ private (2012)", "123 QWD 17", "123QWD17"),
    ("KZ legal entity (2012)", "001 KM 01", "001 КМ 01"),
    ("KZ trailer", "02 1234 AB", "021234АВ"),
    ("KG private (2016)", "01 123 ABC", "01123АВС"),
    ("KG legal entity (2016)", "08 456 KT", "08 456 КТ"),
    ("UZ private (2008)", "01 A 123 BC", "01А123ВС"),
    ("UZ legal entity (2008)", "30 123 ABC", "30-123-ABC"),
    ("UZ trailer (2008)", "10 4567 XA", "104567ХА"),
    ("TJ (2010)", "1234 AB 01", "1234АВ01"),
    ("MN", "1234 УБӨ", "1234УБӨ"),
    ("MN", "0025 СҮА", "0025 CҮA"),
    ("CN (GA 36)", "新A·12345", "新A12345"),
    ("CN (GA 36)", "粤B·D2E45", "粤 B D2E45"),
    ("CN trailer (GA 36)", "新A·1234挂", "新A1234挂"),
    ("AZ (2011)", "10-AB-123", "10AB123"),
    ("RU (GOST R 50577)", "А 777 ВС 02", "A777BC02"),
    ("RU (GOST R 50577)", "Х 001 ХХ 777", "X001XX777"),
    ("RU trailer (GOST R 50577)", "АВ 1234 77", "AB123477"),
]

FORMAT_NAMES = [f.name for f in FORMATS]


def _format(name: str) -> PlateFormat:
    return next(f for f in FORMATS if f.name == name)


@pytest.mark.parametrize(("name", "plate", "other"), REAL_PLATES)
def test_real_plate_fits_its_format_in_both_writings(name: str, plate: str, other: str) -> None:
    assert _format(name) in match_formats(plate)
    assert _format(name) in match_formats(other)


@pytest.mark.parametrize(("name", "plate", "other"), REAL_PLATES)
def test_both_writings_of_a_real_plate_share_the_canonical_key(
    name: str, plate: str, other: str
) -> None:
    assert canonical_key(plate) == canonical_key(other)


def test_cyrillic_record_and_latin_camera_read_are_one_plate() -> None:
    assert canonical_key("А 777 ВС 02") == canonical_key("A777BC02") == "A777BC02"
    assert canonical_key(latin_writing("А 777 ВС 02")) == canonical_key("А 777 ВС 02")


def test_mongolian_plate_keeps_oe_distinct_from_o() -> None:
    assert canonical_key("1234 УБӨ") != canonical_key("1234 УБО")
    assert canonical_key("0025 СҮА") != canonical_key("0025 СУА")


def test_mongolian_ulaanbaatar_and_uvs_plates_are_different_plates() -> None:
    # Б transliterates to B and В looks like B: one canonical key, told apart as written.
    assert canonical_key("1234 УБА") == canonical_key("1234 УВА")
    assert written_key("1234 УБА") != written_key("1234 УВА")
    assert plate_similarity("1234УБА", "1234 УБА") > plate_similarity("1234УБА", "1234 УВА")
    assert plate_similarity("1234YBA", "1234 УВА") > plate_similarity("1234YBA", "1234 УБА")


def test_full_width_characters_are_the_ascii_ones() -> None:
    assert canonical_key("１２３ ABC ０２") == "123ABC02"


def test_chinese_plate_keeps_its_province_character() -> None:
    assert canonical_key("新A·12345") == "新A12345"
    assert canonical_key("新A·12345") != canonical_key("京A·12345")
    assert canonical_key("新A·1234挂") == "新A1234挂"


def test_a_chinese_serial_holds_two_letters_at_most() -> None:
    cn, trailer = match_formats("新A·12345")[0], match_formats("新A·1234挂")[0]
    assert cn.fits("新A·AB123")
    assert cn.fits("京B·1D2F3")
    assert not cn.fits("新A·ABC12")
    assert not cn.fits("甘H·BFS63")
    assert trailer.fits("新A·AB34挂")
    assert not trailer.fits("新A·ABC4挂")
    rng = random.Random(36)
    assert all(cn.fits(cn.random_plate(rng)) for _ in range(200))


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("A123BC77", {"RU (GOST R 50577)"}),
        ("10-AB-123", {"AZ (2011)"}),
        ("01 123 ABC", {"KG private (2016)", "UZ legal entity (2008)"}),
        ("02 1234 AB", {"KZ trailer", "UZ trailer (2008)"}),
        ("1234 УБӨ", {"MN"}),
    ],
)
def test_match_formats_names_every_format_a_plate_fits(text: str, names: set[str]) -> None:
    assert {f.name for f in match_formats(text)} == names


@pytest.mark.parametrize(
    "text",
    [
        "А 123 БС 77",  # Б is not one of the twelve letters Russian plates use
        "777 ABC 2",  # region of one digit
        "1234 ADF",  # Latin letters without a Cyrillic twin on a Mongolian-shaped plate
        "新I·12345",  # Chinese city letters skip I and O
        "",
        "12345678",
    ],
)
def test_text_that_is_no_plate_of_the_corridor_fits_no_format(text: str) -> None:
    assert match_formats(text) == []


def test_formats_for_a_country_by_kind() -> None:
    assert {f.kind for f in formats_for("kz")} == {"vehicle", "trailer"}
    assert [f.name for f in formats_for("RU", "trailer")] == ["RU trailer (GOST R 50577)"]
    assert formats_for("DE") == ()


def test_writing_helpers_swap_only_the_twelve_look_alikes() -> None:
    assert cyrillic_writing("A 777 BC 02") == "А 777 ВС 02"
    assert latin_writing("А 777 ВС 02") == "A 777 BC 02"
    assert latin_writing("1234 УБӨ") == "1234 YБӨ"
    assert cyrillic_writing("123 QWD 17") == "123 QWD 17"
    assert has_only_twin_letters("А 777 ВС 02")
    assert not has_only_twin_letters("123 QWD 17")


@settings(max_examples=300, derandomize=True)
@given(fmt=st.sampled_from(FORMATS), seed=st.integers(0, 2**32 - 1))
def test_every_generated_plate_fits_its_own_grammar(fmt: PlateFormat, seed: int) -> None:
    plate = fmt.random_plate(random.Random(seed))
    assert fmt.grammar.fullmatch(plate), plate
    compact = "".join(ch for ch in plate if ch.isalnum())
    assert fmt in match_formats(compact)
    assert fmt in match_formats(latin_writing(plate))
    assert fmt.country in {f.country for f in match_formats(plate)}


@settings(max_examples=300, derandomize=True)
@given(fmt=st.sampled_from(FORMATS), seed=st.integers(0, 2**32 - 1))
def test_cyrillic_writing_of_a_twin_only_plate_round_trips(fmt: PlateFormat, seed: int) -> None:
    plate = fmt.random_plate(random.Random(seed))
    if has_only_twin_letters(plate):
        assert latin_writing(cyrillic_writing(plate)) == latin_writing(plate)
        assert canonical_key(cyrillic_writing(plate)) == canonical_key(plate)


@settings(max_examples=300, derandomize=True)
@given(fmt=st.sampled_from(FORMATS), seed=st.integers(0, 2**32 - 1))
def test_confusion_only_noise_keeps_the_retrieval_key_within_one_edit(
    fmt: PlateFormat, seed: int
) -> None:
    rng = random.Random(seed)
    plate = fmt.random_plate(rng)
    noisy = ocr_noise(rng, plate, confusion_rate=0.5, edit_rate=0.0)
    assert Levenshtein.distance(retrieval_key(noisy), retrieval_key(plate)) <= 1, (plate, noisy)


@settings(max_examples=300, derandomize=True)
@given(fmt=st.sampled_from(FORMATS), seed=st.integers(0, 2**32 - 1))
def test_one_dropped_or_added_character_is_one_retrieval_edit(fmt: PlateFormat, seed: int) -> None:
    rng = random.Random(seed)
    plate = fmt.random_plate(rng)
    noisy = ocr_noise(rng, plate, confusion_rate=0.0, edit_rate=1.0, max_edits=1)
    assert Levenshtein.distance(retrieval_key(noisy), retrieval_key(plate)) == 1, (plate, noisy)


# -- visitors: European-style plates of the foreign trucks that cross ------------------------

# (format name, plate as written, another writing of the same plate)
VISITOR_PLATES = [
    ("TR (1 letter)", "34 A 1234", "34A1234"),
    ("TR (2 letters)", "06 AB 123", "06-AB-123"),
    ("TR (2 letters)", "35 KL 4567", "35KL4567"),
    ("TR (3 letters)", "34 PLT 34", "34PLT34"),
    ("TR (3 letters)", "16 ABC 123", "16 abc 123"),
    ("GE (2014)", "AB-115-BA", "AB 115 BA"),
    ("LT", "KHI 100", "KHI100"),
    ("PL (2-letter district)", "WX 12345", "WX12345"),
    ("PL (3-letter district)", "WPI A123", "WPIA123"),
    ("DE", "B AB 1234", "B-AB 1234"),
    ("DE", "M X 7", "MX7"),
    ("DE", "TÜ AB 12", "tü-ab 12"),  # a district code with an umlaut
    ("DE (3-letter district, 1 letter)", "HRO A 1234", "HROA1234"),
    ("DE (3-letter district, 2 letters)", "MTK AB 123", "MTK-AB 123"),
    ("BY (2004)", "1234 AB-7", "1234 АВ-7"),  # Belarus writes its letters in Cyrillic too
    ("BY (2004)", "5678 AI-5", "5678 АІ-5"),  # І, the one twin Russian plates lack
    ("BY truck (2004)", "AB 1234-7", "АВ12347"),
    ("BY trailer (2004)", "A 1234 B-7", "A1234B7"),
    ("UA (2004)", "АА 1234 ВВ", "AA1234BB"),
    ("UA (2004)", "АІ 0001 КН", "AI 0001 KH"),
]

CORRIDOR_FORMAT_NAMES = [
    "KZ private (2012)", "KZ legal entity (2012)", "KZ trailer", "KG private (2016)",
    "KG legal entity (2016)", "UZ private (2008)", "UZ legal entity (2008)", "UZ trailer (2008)",
    "TJ (2010)", "MN", "CN (GA 36)", "CN trailer (GA 36)", "AZ (2011)", "RU (GOST R 50577)",
    "RU trailer (GOST R 50577)",
]  # fmt: skip


def _visitor(name: str) -> PlateFormat:
    return next(f for f in VISITOR_FORMATS if f.name == name)


def _compact(plate: str) -> str:
    return "".join(ch for ch in plate if ch.isalnum())


def test_the_corridor_registry_is_unchanged_by_the_visitors() -> None:
    assert [f.name for f in FORMATS] == CORRIDOR_FORMAT_NAMES
    assert not {f.name for f in FORMATS} & {f.name for f in VISITOR_FORMATS}
    assert formats_for("TR") == formats_for("DE") == formats_for("UA") == ()
    assert match_formats("34 PLT 34") == []
    assert match_formats("B AB 1234") == []


def test_the_visitor_registry_covers_the_crossing_trucks_countries() -> None:
    assert {f.country for f in VISITOR_FORMATS} == {"TR", "GE", "LT", "PL", "DE", "BY", "UA"}
    assert {f.scripts for f in VISITOR_FORMATS if f.country != "UA"} == {("Latin",)}
    assert [f.scripts for f in VISITOR_FORMATS if f.country == "UA"] == [("Cyrillic",)]


@pytest.mark.parametrize("fmt", VISITOR_FORMATS, ids=lambda f: f.name)
def test_every_visitor_example_fits_its_own_format(fmt: PlateFormat) -> None:
    assert fmt.fits(fmt.example)
    assert fmt in match_visitor_formats(fmt.example)
    assert fmt in match_visitor_formats(_compact(fmt.example))


@pytest.mark.parametrize(("name", "plate", "other"), VISITOR_PLATES)
def test_real_visitor_plate_fits_its_format_in_both_writings(
    name: str, plate: str, other: str
) -> None:
    assert _visitor(name) in match_visitor_formats(plate)
    assert _visitor(name) in match_visitor_formats(other)
    assert canonical_key(plate) == canonical_key(other)


@pytest.mark.parametrize(
    "text",
    [
        "34 A 123",  # Turkey: one letter takes four digits
        "34 A 12345",
        "34 AB 12",  # two letters take three or four
        "34 ABC 1234",  # three letters take two or three
        "34 AQX 123",  # no Q, W, X on Turkish plates
        "AB-1234-CD",  # Georgia: three digits
        "QWX 012",  # no Q, W, X on Lithuanian plates (nor a German number: its zero)
        "WPI B023",  # Polish serials leave out B, D, I, O, Z
        "WX 0123",
        "ABC DE 1234",  # Germany: eight characters at most
        "B AB 0123",  # a German number has no leading zero
        "B ABC 12",  # one or two letters after the district
        "1234 AY-7",  # У is no Belarusian plate letter
        "1234 AB-77",  # Belarus: one region digit
        "АУ 1234 ВВ",  # nor a Ukrainian one
        "АА 12345 ВВ",
    ],
)
def test_text_that_breaks_a_visitor_grammar_fits_no_visitor_format(text: str) -> None:
    assert match_visitor_formats(text) == []


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ("KHI 100", {"LT", "DE"}),  # also a German K HI 100
        ("KHI 012", {"LT"}),  # not German: a leading zero
        ("WPIA123", {"PL (3-letter district)", "DE", "DE (3-letter district, 1 letter)"}),
        ("KK 12345", {"PL (2-letter district)", "BY truck (2004)"}),
        ("34 AB 123", {"TR (2 letters)"}),
    ],
)
def test_match_visitor_formats_names_every_visitor_format_a_plate_fits(
    text: str, names: set[str]
) -> None:
    assert {f.name for f in match_visitor_formats(text)} == names


def test_visitor_formats_for_a_country_by_kind() -> None:
    assert [f.name for f in visitor_formats_for("tr")] == [
        "TR (1 letter)",
        "TR (2 letters)",
        "TR (3 letters)",
    ]
    assert [f.name for f in visitor_formats_for("BY", "trailer")] == ["BY trailer (2004)"]
    assert visitor_formats_for("KZ") == ()


@settings(max_examples=400, derandomize=True)
@given(fmt=st.sampled_from(VISITOR_FORMATS), seed=st.integers(0, 2**32 - 1))
def test_every_generated_visitor_plate_fits_its_own_grammar(fmt: PlateFormat, seed: int) -> None:
    plate = fmt.random_plate(random.Random(seed))
    assert fmt.grammar.fullmatch(plate), plate
    assert fmt in match_visitor_formats(plate)
    assert fmt in match_visitor_formats(_compact(plate))
    assert fmt in match_visitor_formats(latin_writing(plate))
    assert fmt in match_visitor_formats(cyrillic_writing(plate))


@settings(max_examples=400, derandomize=True)
@given(fmt=st.sampled_from(VISITOR_FORMATS), seed=st.integers(0, 2**32 - 1))
def test_a_visitor_plate_fits_a_corridor_format_only_where_the_shapes_coincide(
    fmt: PlateFormat, seed: int
) -> None:
    # The one overlap: a Turkish `34 AB 123` has the Azerbaijani shape `10-AB-123`.
    plate = fmt.random_plate(random.Random(seed))
    digits = _compact(plate)[4:]
    overlap = {"AZ (2011)"} if fmt.name == "TR (2 letters)" and len(digits) == 3 else set()
    for writing in (plate, _compact(plate), latin_writing(plate), cyrillic_writing(plate)):
        assert {f.name for f in match_formats(writing)} == overlap, writing


@settings(max_examples=400, derandomize=True)
@given(fmt=st.sampled_from(VISITOR_FORMATS), seed=st.integers(0, 2**32 - 1))
def test_generated_visitor_plates_carry_real_codes_in_their_own_script(
    fmt: PlateFormat, seed: int
) -> None:
    plate = fmt.random_plate(random.Random(seed))
    first = plate.split(" ")[0]
    if fmt.country == "TR":
        assert first in TR_PROVINCES
    elif fmt.country == "PL":
        assert first in PL_DISTRICTS + PL_COUNTY_DISTRICTS
    elif fmt.country == "DE":
        assert first in DE_DISTRICTS + DE_COUNTY_DISTRICTS
    elif fmt.country == "BY":
        assert plate[-1] in BY_REGIONS
        assert plate.isascii()
    elif fmt.country == "UA":
        assert first in UA_REGIONS
        assert not any("A" <= ch <= "Z" for ch in plate)  # Cyrillic throughout


@settings(max_examples=300, derandomize=True)
@given(fmt=st.sampled_from(FORMATS), seed=st.integers(0, 2**32 - 1))
def test_a_square_plates_bottom_line_is_known_as_one_of_its_format(
    fmt: PlateFormat, seed: int
) -> None:
    from drivers.sim.plate_render import split_lines  # the generator draws square plates so

    _, bottom = split_lines(fmt.random_plate(random.Random(seed)), fmt)
    if len("".join(ch for ch in bottom if ch.isalnum())) >= 4:
        assert fmt in bottom_line_formats(bottom), bottom
        assert fmt in bottom_line_formats(latin_writing(bottom).replace(" ", ""))


def test_bottom_lines_name_the_square_plates_they_can_end() -> None:
    assert [f.name for f in bottom_line_formats("7372 74")] == ["RU trailer (GOST R 50577)"]
    assert {f.country for f in bottom_line_formats("2438SY")} == {"KZ", "UZ"}
    assert [f.name for f in bottom_line_formats("2713挂")] == ["CN trailer (GA 36)"]
    assert bottom_line_formats("ХӨШ") == []  # too short to tell anything
    assert bottom_line_formats("SILKWAY") == []
