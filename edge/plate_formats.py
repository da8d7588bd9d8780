"""Licence-plate formats of the corridor: what a real plate of each country looks like, as a
grammar over the plate as written and as a generator of plates for tests and the demo.

Grammars accept the plate with or without its separators (spaces, dots, dashes, the Chinese
middle dot) and in either writing of the twelve Cyrillic/Latin look-alike letters, so a
Russian plate typed in Latin or a Kazakh plate typed in Cyrillic still fits its format. Region
fields accept any digits of the right length; the generators draw real region codes.

`FORMATS` holds the corridor countries' plates, the ones the reader is trained on and the
matcher ranks by. `VISITOR_FORMATS` holds, apart from them, the European-style plates of the
foreign trucks that most often cross (Turkey, Georgia, Lithuania, Poland, Germany, Belarus,
Ukraine).
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Literal

from edge.transliteration import CYRILLIC_LOOKALIKES

PlateKind = Literal["vehicle", "trailer"]

DIGITS = "0123456789"
LATIN = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
# Russian plates use only the Cyrillic letters that have a Latin twin.
CYRILLIC_TWINS = "".join(CYRILLIC_LOOKALIKES)
# Mongolian Cyrillic without the letters that never start a syllable (Ъ Ь Ы Й) and Ё Щ.
MONGOLIAN = "АБВГДЕЖЗИКЛМНОӨПРСТУҮФХЦЧШЭЮЯ"
# Chinese serials and city codes leave out I and O, which read as 1 and 0.
CN_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"
CN_LETTERS = "ABCDEFGHJKLMNPQRSTUVWXYZ"
# The 31 province abbreviations of mainland China.
CN_PROVINCES = "京津沪渝冀豫云辽黑湘皖鲁新苏浙赣鄂桂甘晋蒙陕吉闽贵粤青藏川宁琼"

SEPARATORS = " .-·"
_SEPARATOR = r"[\s.\-·•]*"
_SEPARATORS = re.compile(_SEPARATOR)

_LATIN_TWINS = frozenset(CYRILLIC_LOOKALIKES.values())
_TO_LATIN = str.maketrans(
    {**CYRILLIC_LOOKALIKES, **{c.lower(): lat.lower() for c, lat in CYRILLIC_LOOKALIKES.items()}}
)
_TO_CYRILLIC = str.maketrans(
    {
        **{lat: c for c, lat in CYRILLIC_LOOKALIKES.items()},
        **{lat.lower(): c.lower() for c, lat in CYRILLIC_LOOKALIKES.items()},
    }
)


def latin_writing(plate: str) -> str:
    """The plate with each Cyrillic look-alike letter (А В Е К М Н О Р С Т У Х) in Latin.

    Letters without a twin (Mongolian Ө, Chinese characters) are kept as they are.
    """
    return plate.translate(_TO_LATIN)


def cyrillic_writing(plate: str) -> str:
    """The plate with each Latin look-alike letter (A B E K M H O P C T Y X) in Cyrillic.

    Letters without a twin (Latin D, Chinese characters) are kept as they are.
    """
    return plate.translate(_TO_CYRILLIC)


def has_only_twin_letters(plate: str) -> bool:
    """Whether every letter of the plate has a twin in the other script, so the plate can be
    written wholly in Cyrillic or wholly in Latin."""
    return all(
        ch in CYRILLIC_LOOKALIKES or ch in _LATIN_TWINS for ch in plate.upper() if ch.isalpha()
    )


@dataclass(frozen=True)
class Group:
    """One run of characters on a plate: `length` characters of `alphabet`, or one of `values`
    when the generator should draw real codes (regions, Mongolian aimags)."""

    alphabet: str
    length: int
    max_length: int | None = None
    values: tuple[str, ...] = ()
    draw: Callable[[random.Random], str] | None = None
    # at most this many letters among its digits (a Chinese serial); the group must then end
    # the plate or be followed by a character outside its alphabet
    max_letters: int | None = None
    # every code ever issued, where that list is short and closed (regions): a read with
    # another fits the grammar (region fields accept any digits) but is less likely the plate
    issued: tuple[str, ...] = ()

    def pattern(self) -> str:
        chars = "[" + re.escape(self.alphabet) + "]"
        run = (
            f"{{{self.length}}}"
            if self.max_length is None
            else f"{{{self.length},{self.max_length}}}"
        )
        if self.max_letters is None:
            return chars + run
        digits = "[" + re.escape("".join(c for c in self.alphabet if c.isdigit())) + "]"
        letters = "[" + re.escape("".join(c for c in self.alphabet if not c.isdigit())) + "]"
        most = f"(?={digits}*(?:{letters}{digits}*){{0,{self.max_letters}}}(?!{chars}))"
        return most + chars + run

    def random(self, rng: random.Random) -> str:
        if self.draw is not None:
            return self.draw(rng)
        if self.values:
            return rng.choice(self.values)
        length = rng.randint(self.length, self.max_length or self.length)
        return "".join(rng.choice(self.alphabet) for _ in range(length))


@dataclass(frozen=True)
class PlateFormat:
    country: str  # ISO 3166-1 alpha-2
    name: str
    kind: PlateKind
    scripts: tuple[str, ...]  # Unicode script names the plate is written in
    example: str
    groups: tuple[Group, ...]
    separators: tuple[str, ...]  # as written between the groups, one fewer than the groups
    grammar: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if len(self.separators) != len(self.groups) - 1:
            raise ValueError(f"{self.name}: needs one separator between each two groups")
        body = _SEPARATOR.join(g.pattern() for g in self.groups)
        object.__setattr__(self, "grammar", re.compile(body))
        if not self.fits(self.example):
            raise ValueError(f"{self.name}: example {self.example!r} does not fit its grammar")

    def fits(self, text: str) -> bool:
        """Whether `text` is a plate of this format, in either writing, separators optional."""
        return any(self.grammar.fullmatch(writing) for writing in _writings(text))

    def random_plate(self, rng: random.Random) -> str:
        """A plate of this format as written on it, with its usual separators."""
        parts = [group.random(rng) for group in self.groups]
        out = parts[0]
        for separator, part in zip(self.separators, parts[1:], strict=True):
            out += separator + part
        return out


def _writings(text: str) -> tuple[str, str, str]:
    """The text as given (NFC, upper case), in Latin and in Cyrillic look-alikes: a grammar
    fits a plate when it fits one of them."""
    plate = unicodedata.normalize("NFC", text).strip().upper()
    return plate, latin_writing(plate), cyrillic_writing(plate)


def _digits(n: int, values: tuple[str, ...] = ()) -> Group:
    return Group(DIGITS, n, values=values)


def _latin(n: int) -> Group:
    return Group(LATIN, n)


def _cn_serial(length: int) -> Group:
    def draw(rng: random.Random) -> str:
        # Mostly digits; at most two letters (GA 36-2018), as issued.
        chars = [rng.choice(DIGITS) for _ in range(length)]
        for position in rng.sample(range(length), k=rng.choice((0, 0, 0, 1, 1, 2))):
            chars[position] = rng.choice(CN_LETTERS)
        return "".join(chars)

    return Group(CN_ALNUM, length, draw=draw, max_letters=2)


def _cn_province(rng: random.Random) -> str:
    # The demo crossing faces Xinjiang; trucks from the rest of China come through too.
    return "新" if rng.random() < 0.7 else rng.choice(CN_PROVINCES)


KZ_REGIONS = tuple(f"{n:02d}" for n in range(1, 21))
KG_REGIONS = tuple(f"{n:02d}" for n in range(1, 10))
UZ_REGIONS = ("01", "10", "20", "25", "30", "40", "50", "60", "70", "75", "80", "85", "90", "95")
TJ_REGIONS = ("01", "02", "03", "04")  # drawn by the generator
TJ_ISSUED = ("01", "02", "03", "04", "05", "06", "07", "08")  # 05-08: Dushanbe, Sughd, RRP


def _region(values: tuple[str, ...], issued: tuple[str, ...] | None = None) -> Group:
    """A two-digit region code of a closed list."""
    return Group(DIGITS, 2, values=values, issued=values if issued is None else issued)


AZ_REGIONS = ("10", "90", "99", "77", "20", "50", "85")
RU_REGIONS = (
    "02", "16", "22", "30", "34", "45", "54", "55", "56", "63", "64", "72", "74", "77", "86",
    "99", "102", "116", "154", "174", "186", "750", "763", "777", "790", "799",
)  # fmt: skip
MN_AIMAGS = (
    "АР", "БХ", "БН", "БӨ", "БУ", "ГС", "ДА", "ДО", "ДГ", "ДУ", "ОР", "ГА", "ХЭ", "ХО", "ХӨ",
    "НА", "ӨМ", "ӨВ", "СЭ", "СҮ", "СБ", "ТӨ", "УБ", "УН", "УВ", "ЗА",
)  # fmt: skip

_RU_REGION = Group(DIGITS, 2, max_length=3, values=RU_REGIONS)

FORMATS: tuple[PlateFormat, ...] = (
    PlateFormat(
        "KZ", "KZ private (2012)", "vehicle", ("Latin",), "777 ABC 02",
        (_digits(3), _latin(3), _region(KZ_REGIONS)), (" ", " "),
    ),
    PlateFormat(
        "KZ", "KZ legal entity (2012)", "vehicle", ("Latin",), "777 AB 02",
        (_digits(3), _latin(2), _region(KZ_REGIONS)), (" ", " "),
    ),
    PlateFormat(
        "KZ", "KZ trailer", "trailer", ("Latin",), "02 1234 AB",
        (_region(KZ_REGIONS), _digits(4), _latin(2)), (" ", " "),
    ),
    PlateFormat(
        "KG", "KG private (2016)", "vehicle", ("Latin",), "01 123 ABC",
        (_region(KG_REGIONS), _digits(3), _latin(3)), (" ", " "),
    ),
    PlateFormat(
        "KG", "KG legal entity (2016)", "vehicle", ("Latin",), "01 123 AB",
        (_region(KG_REGIONS), _digits(3), _latin(2)), (" ", " "),
    ),
    PlateFormat(
        "UZ", "UZ private (2008)", "vehicle", ("Latin",), "01 A 123 BC",
        (_region(UZ_REGIONS), _latin(1), _digits(3), _latin(2)), (" ", " ", " "),
    ),
    PlateFormat(
        "UZ", "UZ legal entity (2008)", "vehicle", ("Latin",), "01 123 ABC",
        (_region(UZ_REGIONS), _digits(3), _latin(3)), (" ", " "),
    ),
    PlateFormat(
        "UZ", "UZ trailer (2008)", "trailer", ("Latin",), "01 1234 AB",
        (_region(UZ_REGIONS), _digits(4), _latin(2)), (" ", " "),
    ),
    PlateFormat(
        "TJ", "TJ (2010)", "vehicle", ("Latin",), "1234 AB 01",
        (_digits(4), _latin(2), _region(TJ_REGIONS, TJ_ISSUED)), (" ", " "),
    ),
    PlateFormat(
        "MN", "MN", "vehicle", ("Cyrillic",), "1234 УБӨ",
        (_digits(4), Group(MONGOLIAN, 2, values=MN_AIMAGS), Group(MONGOLIAN, 1)), (" ", ""),
    ),
    PlateFormat(
        "CN", "CN (GA 36)", "vehicle", ("Han", "Latin"), "新A·12345",
        (Group(CN_PROVINCES, 1, draw=_cn_province), Group(CN_LETTERS, 1), _cn_serial(5)),
        ("", "·"),
    ),
    PlateFormat(
        "CN", "CN trailer (GA 36)", "trailer", ("Han", "Latin"), "新A·1234挂",
        (
            Group(CN_PROVINCES, 1, draw=_cn_province),
            Group(CN_LETTERS, 1),
            _cn_serial(4),
            Group("挂", 1),
        ),
        ("", "·", ""),
    ),
    PlateFormat(
        "AZ", "AZ (2011)", "vehicle", ("Latin",), "10-AB-123",
        (_digits(2, AZ_REGIONS), _latin(2), _digits(3)), ("-", "-"),
    ),
    PlateFormat(
        "RU", "RU (GOST R 50577)", "vehicle", ("Cyrillic",), "А 123 ВС 77",
        (Group(CYRILLIC_TWINS, 1), _digits(3), Group(CYRILLIC_TWINS, 2), _RU_REGION),
        (" ", " ", " "),
    ),
    PlateFormat(
        "RU", "RU trailer (GOST R 50577)", "trailer", ("Cyrillic",), "АВ 1234 77",
        (Group(CYRILLIC_TWINS, 2), _digits(4), _RU_REGION), (" ", " "),
    ),
)  # fmt: skip


# -- square plates: the corridor's plates are also issued on two lines (mostly trailers) --------


def square_cut(sizes: Sequence[int], country: str) -> int:
    """Where a square plate's bottom line begins, as an index into its groups (of these
    lengths): China puts the province and city code on top; elsewhere the split is the most
    even, the shorter line on top."""
    if country == "CN":
        return 2
    return min(range(1, len(sizes)), key=lambda k: abs(sum(sizes[:k]) - sum(sizes[k:])))


def bottom_line_formats(text: str, shortest: int = 4) -> list[PlateFormat]:
    """The corridor formats whose square plates have `text` as their bottom line, if it is at
    least `shortest` characters (a shorter one, a Mongolian plate's three letters, fits too
    much to say anything)."""
    writings = _writings(text)
    if len(_SEPARATORS.sub("", writings[0])) < shortest:
        return []
    return [
        fmt
        for fmt, grammars in _BOTTOM_LINES
        if any(g.fullmatch(w) for g in grammars for w in writings)
    ]


def _bottom_line_grammars(fmt: PlateFormat) -> tuple[re.Pattern[str], ...]:
    """A grammar for each place the split can fall (a Russian region has two or three digits)."""
    shortest = [g.length for g in fmt.groups]
    longest = [g.max_length or g.length for g in fmt.groups]
    cuts = {square_cut(sizes, fmt.country) for sizes in (shortest, longest)}
    return tuple(
        re.compile(_SEPARATOR.join(g.pattern() for g in fmt.groups[cut:])) for cut in sorted(cuts)
    )


_BOTTOM_LINES = tuple((fmt, _bottom_line_grammars(fmt)) for fmt in FORMATS)


def formats_for(country: str, kind: PlateKind | None = None) -> tuple[PlateFormat, ...]:
    """The formats of a country (ISO alpha-2), of one kind if given."""
    return tuple(
        f for f in FORMATS if f.country == country.upper() and (kind is None or f.kind == kind)
    )


def match_formats(text: str) -> list[PlateFormat]:
    """Every format `text` fits, in registry order; several when formats share a shape
    (a Kyrgyz private plate and an Uzbek legal entity's are both `01 123 ABC`)."""
    return [f for f in FORMATS if f.fits(text)]


# -- visitors: the European-style plates of foreign trucks that cross the corridor -------------

# Turkish serials (the Turkish alphabet without Ç Ğ İ Ö Ş Ü) and Lithuanian registrations
# leave out Q, W and X.
LATIN_NO_QWX = "ABCDEFGHIJKLMNOPRSTUVYZ"
# A Polish vehicle serial leaves out B, D, I, O and Z, which read as 8, 0, 1, 0 and 2.
PL_SERIES_LETTERS = "ACEFGHJKLMNPRSTUVWXY"
# Belarus and Ukraine use the twelve Cyrillic letters that look Latin: the Russian twins with І
# in place of У. Latin І is not one of `edge.plates`' twelve look-alikes (Russian has no І), so
# the grammars take either I; the generators write each country's own.
EAST_TWINS_LATIN = "ABEIKMHOPCTX"
EAST_TWINS_CYRILLIC = "АВЕІКМНОРСТХ"

TR_PROVINCES = tuple(f"{n:02d}" for n in range(1, 82))
PL_DISTRICTS = (
    "WA", "WB", "WD", "WE", "WF", "WH", "WI", "WJ", "WK", "WN", "WT", "WU", "WW", "WX", "WY",
    "KR", "KK", "PO", "PY", "DW", "DX", "GD", "GA", "LU", "EL", "SK", "ZS", "BI", "CB", "CT",
    "OP", "RZ", "TK", "NO", "SB", "SC", "SG",
)  # fmt: skip
PL_COUNTY_DISTRICTS = (
    "WPI", "WPR", "WGM", "WOT", "KRA", "KWI", "DWR", "GDA", "GKA", "SBE", "CTR", "BIA",
)  # fmt: skip
DE_DISTRICTS = (
    "B", "M", "HH", "K", "F", "S", "D", "DO", "E", "DU", "H", "L", "DD", "N", "HB", "BI", "MS",
    "KA", "A", "AC", "BN", "KI", "MA", "OS",
)  # fmt: skip
DE_COUNTY_DISTRICTS = ("HRO", "MTK", "REK", "GER", "FFB", "LDS", "MOL", "MYK", "WES", "HSK")
BY_REGIONS = tuple(str(n) for n in range(1, 8))
# Ukraine's region codes of 2004 and their 2013 twins (K, H, I first); Crimea and Sevastopol
# left out.
UA_REGIONS = (
    "АА", "АВ", "АС", "АЕ", "АН", "АІ", "АМ", "АО", "АР", "АТ", "АХ", "ВА", "ВВ", "ВС", "ВЕ",
    "ВН", "ВІ", "ВК", "ВМ", "ВО", "ВТ", "ВХ", "СА", "СВ", "СЕ",
    "КА", "КВ", "КС", "КЕ", "КН", "КІ", "КМ", "КО", "КР", "КТ", "КХ", "НА", "НВ", "НС", "НЕ",
    "НН", "НІ", "НК", "НМ", "НО", "НТ", "НХ", "ІА", "ІВ", "ІЕ",
)  # fmt: skip


def _east_twins(writing: str, n: int, values: tuple[str, ...] = ()) -> Group:
    """`n` of the Belarusian/Ukrainian twelve in `writing`; the grammar takes either I."""
    other_i = "I" if writing == EAST_TWINS_CYRILLIC else "І"

    def draw(rng: random.Random) -> str:
        return "".join(rng.choice(writing) for _ in range(n))

    return Group(writing + other_i, n, values=values, draw=None if values else draw)


def _number(max_length: int) -> tuple[Group, Group]:
    """A German number: 1 to `max_length` digits, no leading zero (two groups, no separator)."""
    return Group("123456789", 1), Group(DIGITS, 0, max_length - 1)


_TR_PROVINCE = _digits(2, TR_PROVINCES)
# German district codes may hold an umlaut (TÜ, LÖ); the generator draws codes without.
_DE_DISTRICT = Group(LATIN + "ÄÖÜ", 1, max_length=2, values=DE_DISTRICTS)
_DE_COUNTY = Group(LATIN + "ÄÖÜ", 3, values=DE_COUNTY_DISTRICTS)

VISITOR_FORMATS: tuple[PlateFormat, ...] = (
    # Turkey: province, then 1 letter + 4 digits, 2 letters + 3 or 4, or 3 letters + 2 or 3.
    PlateFormat(
        "TR", "TR (1 letter)", "vehicle", ("Latin",), "34 A 1234",
        (_TR_PROVINCE, Group(LATIN_NO_QWX, 1), _digits(4)), (" ", " "),
    ),
    PlateFormat(
        "TR", "TR (2 letters)", "vehicle", ("Latin",), "34 AB 123",
        (_TR_PROVINCE, Group(LATIN_NO_QWX, 2), Group(DIGITS, 3, max_length=4)), (" ", " "),
    ),
    PlateFormat(
        "TR", "TR (3 letters)", "vehicle", ("Latin",), "34 ABC 12",
        (_TR_PROVINCE, Group(LATIN_NO_QWX, 3), Group(DIGITS, 2, max_length=3)), (" ", " "),
    ),
    PlateFormat(
        "GE", "GE (2014)", "vehicle", ("Latin",), "AB-123-CD",
        (_latin(2), _digits(3), _latin(2)), ("-", "-"),
    ),
    PlateFormat(
        "LT", "LT", "vehicle", ("Latin",), "ABC 123",
        (Group(LATIN_NO_QWX, 3), _digits(3)), (" ",),
    ),
    # Poland: a city's two-letter district and five digits (its first serials); a county's
    # three-letter district and a letter with three digits (its first serials).
    PlateFormat(
        "PL", "PL (2-letter district)", "vehicle", ("Latin",), "WX 12345",
        (Group(LATIN, 2, values=PL_DISTRICTS), _digits(5)), (" ",),
    ),
    PlateFormat(
        "PL", "PL (3-letter district)", "vehicle", ("Latin",), "WPI A123",
        (Group(LATIN, 3, values=PL_COUNTY_DISTRICTS), Group(PL_SERIES_LETTERS, 1), _digits(3)),
        (" ", ""),
    ),
    # Germany: district, 1-2 letters, a number 1-9999; eight characters at most in all.
    PlateFormat(
        "DE", "DE", "vehicle", ("Latin",), "B AB 1234",
        (_DE_DISTRICT, Group(LATIN, 1, max_length=2), *_number(4)), (" ", " ", ""),
    ),
    PlateFormat(
        "DE", "DE (3-letter district, 1 letter)", "vehicle", ("Latin",), "HRO A 1234",
        (_DE_COUNTY, Group(LATIN, 1), *_number(4)), (" ", " ", ""),
    ),
    PlateFormat(
        "DE", "DE (3-letter district, 2 letters)", "vehicle", ("Latin",), "HRO AB 123",
        (_DE_COUNTY, Group(LATIN, 2), *_number(3)), (" ", " ", ""),
    ),
    # Belarus: the region digit last; cars, trucks and buses, trailers each their own order.
    PlateFormat(
        "BY", "BY (2004)", "vehicle", ("Latin",), "1234 AB-7",
        (_digits(4), _east_twins(EAST_TWINS_LATIN, 2), _digits(1, BY_REGIONS)), (" ", "-"),
    ),
    PlateFormat(
        "BY", "BY truck (2004)", "vehicle", ("Latin",), "AB 1234-7",
        (_east_twins(EAST_TWINS_LATIN, 2), _digits(4), _digits(1, BY_REGIONS)), (" ", "-"),
    ),
    PlateFormat(
        "BY", "BY trailer (2004)", "trailer", ("Latin",), "A 1234 B-7",
        (
            _east_twins(EAST_TWINS_LATIN, 1),
            _digits(4),
            _east_twins(EAST_TWINS_LATIN, 1),
            _digits(1, BY_REGIONS),
        ),
        (" ", " ", "-"),
    ),
    PlateFormat(
        "UA", "UA (2004)", "vehicle", ("Cyrillic",), "АА 1234 ВВ",
        (
            _east_twins(EAST_TWINS_CYRILLIC, 2, UA_REGIONS),
            _digits(4),
            _east_twins(EAST_TWINS_CYRILLIC, 2),
        ),
        (" ", " "),
    ),
)  # fmt: skip


def visitor_formats_for(country: str, kind: PlateKind | None = None) -> tuple[PlateFormat, ...]:
    """The visitor formats of a country (ISO alpha-2), of one kind if given."""
    return tuple(
        f
        for f in VISITOR_FORMATS
        if f.country == country.upper() and (kind is None or f.kind == kind)
    )


def match_visitor_formats(text: str) -> list[PlateFormat]:
    """Every visitor format `text` fits, in registry order (a Lithuanian `ABC 123` is also a
    German `A BC 123`)."""
    return [f for f in VISITOR_FORMATS if f.fits(text)]
